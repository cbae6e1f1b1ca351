// The simulator page's script: served from /static, as the Content-Security-Policy allows no
// inline script.
const log = document.getElementById("log"), phoneInput = document.getElementById("phone");
let shown = -1, phone = localStorage.getItem("sb-phone") || phoneInput.value;
phoneInput.value = phone;
phoneInput.addEventListener("change", () => { phone = phoneInput.value.trim(); localStorage.setItem("sb-phone", phone); shown = -1; refresh(); });

function escape(text) {
  return text.replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
}

function linkify(text) {
  const escaped = escape(text);
  return escaped.replace(/https?:\/\/[^\s<]+/g, url => `<a href="${url}" target="_blank" rel="noopener">${url}</a>`);
}

async function refresh() {
  const response = await fetch(`/simulator/api/messages?phone=${encodeURIComponent(phone)}`);
  if (!response.ok) return;
  const data = await response.json();
  if (data.messages.length === shown && !data.typing === !document.querySelector(".typing")) return;
  shown = data.messages.length;
  log.innerHTML = data.messages.map(m =>
    `<div class="msg ${m.from}" data-from="${m.from}">${linkify(m.text)}<span class="meta">${m.status || ""} ${new Date(m.at).toLocaleTimeString()}</span></div>` +
    ((m.choices || []).length ? `<div class="choices">${m.choices.map(c => `<button type="button">${escape(c)}</button>`).join("")}</div>` : "")
  ).join("") + (data.typing ? '<div class="typing">typing…</div>' : "");
  log.scrollTop = log.scrollHeight;
}

async function send(text) {
  await fetch("/simulator/api/send", {method: "POST", headers: {"content-type": "application/json"},
                                      body: JSON.stringify({phone, text})});
  refresh();
}

document.getElementById("send").addEventListener("submit", async event => {
  event.preventDefault();
  const input = document.getElementById("text"), text = input.value.trim();
  if (!text) return;
  input.value = "";
  await send(text);
});
// A tapped reply button or list row sends its title, as WhatsApp does.
log.addEventListener("click", event => {
  if (event.target.matches(".choices button")) send(event.target.textContent);
});
refresh();
setInterval(refresh, 700);
