// The console's script: served from /static, as the Content-Security-Policy allows no inline script.
(() => {
  // SLA timers count down in the browser; the server renders the first value.
  function fmt(seconds) {
    const s = Math.abs(Math.round(seconds)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const span = (h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m`) + ` ${String(r).padStart(2, "0")}s`;
    return seconds >= 0 ? `${span} left` : `breached ${span} ago`;
  }
  function tick() {
    for (const el of document.querySelectorAll(".sla[data-due]")) {
      const left = (Date.parse(el.dataset.due) - Date.now()) / 1000;
      el.textContent = fmt(left);
      el.classList.toggle("breached", left < 0);
    }
  }
  tick(); setInterval(tick, 1000);

  // Live updates: when a desk event concerns this page, fetch it again and swap <main>.
  const main = () => document.getElementById("main");
  let pending = null;
  function busy() {
    const active = document.activeElement;
    if (active && main().contains(active) && ["TEXTAREA", "INPUT", "SELECT"].includes(active.tagName)) return true;
    return [...main().querySelectorAll("textarea, input[type=text]")].some(el => el.value.trim());
  }
  async function refresh() {
    pending = null;
    if (busy()) { document.getElementById("live").textContent = "New activity: reload to see it"; return; }
    const response = await fetch(location.href, {headers: {"accept": "text/html"}, credentials: "same-origin"});
    if (!response.ok || response.redirected) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("main");
    if (fresh) { main().replaceWith(fresh); tick(); document.getElementById("live").textContent = "updated " + new Date().toLocaleTimeString(); }
  }
  if (window.EventSource) {
    const source = new EventSource("/console/events");
    source.addEventListener("desk", message => {
      const event = JSON.parse(message.data), ref = main().dataset.ref;
      if (ref && event.ref !== ref) return;
      if (!pending) pending = setTimeout(refresh, 250);
    });
    source.onopen = () => { document.getElementById("live").textContent = "live"; };
    source.onerror = () => { document.getElementById("live").textContent = "reconnecting…"; };
    window.addEventListener("beforeunload", () => source.close());
  }
})();
