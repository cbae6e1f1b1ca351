"""The offline intent router: `nodes.brain.classify` is its entry point.

patterns.py   the first pass: whole-message small talk and explicit asks for a person
concepts.py   concepts shared by five languages, a feature block for the model
features.py   WordLlama embedding + concepts + character n-grams of a text
model.py      the ridge classifier over those features
data.py       utterances.txt (the labelled set) and its stratified split
router.py     patterns, then the model, "other" when unsure; `default_router()`
evaluation.py held-out scores behind `switchboard eval router`
"""
