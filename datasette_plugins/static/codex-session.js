/* The session page: permalinks, copy link, collapse/expand, kind filters, live updates.
   A static file (no inline script or handler), so a strict Content-Security-Policy holds.
   Everything it inserts is HTML rendered and escaped by the server. */
(function () {
  "use strict";
  var POLL_MS = 1500;
  var IDLE_MS = 10 * 60 * 1000; // stop following after ten minutes without a new event
  var timeline = document.getElementById("codex-timeline");
  if (!timeline) return;

  function eventUrl(seq) {
    var url = new URL(timeline.dataset.pageUrl, location.href);
    url.search = "?at=" + seq;
    url.hash = "e" + seq;
    return url.href;
  }

  /* Permalinks: #e<seq> highlights and scrolls; an event on another page is fetched there. */
  function showTarget() {
    var match = /^#(e\d+|turn-\d+)$/.exec(location.hash);
    if (!match) return;
    var target = document.getElementById(match[1]);
    if (!target) {
      var seq = /^e(\d+)$/.exec(match[1]);
      var params = new URLSearchParams(location.search);
      if (seq && params.get("at") !== seq[1]) location.replace(eventUrl(seq[1]));
      return;
    }
    document.querySelectorAll(".codex-highlight").forEach(function (el) {
      el.classList.remove("codex-highlight");
    });
    if (target.matches(".codex-event, .codex-result")) target.classList.add("codex-highlight");
    for (var el = target; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") el.open = true;
      if (el.classList && el.classList.contains("codex-collapsed")) setFolded(el, false);
      if (el.classList && el.classList.contains("codex-hidden-kind")) el.classList.remove("codex-hidden-kind");
    }
    target.scrollIntoView({ block: "start" });
  }
  window.addEventListener("hashchange", showTarget);

  function setFolded(article, folded) {
    article.classList.toggle("codex-collapsed", folded);
    var button = article.querySelector(":scope > .codex-head .codex-toggle");
    if (button) {
      button.setAttribute("aria-expanded", String(!folded));
      button.textContent = folded ? "▸" : "▾";
    }
  }

  function copy(text, button) {
    function done() {
      button.textContent = "copied";
      setTimeout(function () { button.textContent = "copy link"; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { button.textContent = "copy failed"; });
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } finally { area.remove(); }
    }
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("button");
    if (!button) return;
    if (button.classList.contains("codex-copy")) {
      var url = eventUrl(button.dataset.seq);
      button.dataset.url = url;
      copy(url, button);
    } else if (button.classList.contains("codex-toggle")) {
      var article = button.closest(".codex-event");
      setFolded(article, !article.classList.contains("codex-collapsed"));
    } else if (button.dataset.codexAction) {
      var fold = button.dataset.codexAction === "collapse";
      document.querySelectorAll(".codex-event").forEach(function (a) { setFolded(a, fold); });
      document.querySelectorAll("details.codex-fold, details.codex-json").forEach(function (d) {
        d.open = !fold;
      });
    }
  });

  /* Kind filters: a class on the timeline hides the events of each unticked kind. */
  document.querySelectorAll("input[data-codex-kind]").forEach(function (box) {
    box.addEventListener("change", function () {
      timeline.classList.toggle("codex-hide-" + box.dataset.codexKind, !box.checked);
    });
  });

  var rail = document.querySelector(".codex-rail");
  if (rail && window.matchMedia("(max-width: 899px)").matches) rail.open = false;

  /* Live: the last page follows the session through its .json twin until it goes idle. */
  var status = document.getElementById("codex-live-status");
  var lastSeq = Number(timeline.dataset.lastSeq || 0);
  var lastNews = Date.now();
  function poll() {
    var url = new URL(timeline.dataset.sessionJson, location.href);
    url.search = "?after=" + lastSeq + "&fragments=1";
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.events.length) {
          data.fragments.forEach(function (fragment) {
            var into = fragment.into && document.getElementById(fragment.into);
            (into || timeline).insertAdjacentHTML("beforeend", fragment.html);
          });
          data.events.forEach(function (e) { lastSeq = Math.max(lastSeq, e.seq); });
          timeline.dataset.lastSeq = String(lastSeq);
          lastNews = Date.now();
          status.textContent = "Live: " + data.events.length + " new event(s) at " + new Date().toLocaleTimeString();
        }
      })
      .catch(function () {})
      .then(function () {
        if (Date.now() - lastNews < IDLE_MS) setTimeout(poll, POLL_MS);
        else status.textContent = "The session is idle: reload to follow it again.";
      });
  }
  if (timeline.dataset.live === "on") setTimeout(poll, POLL_MS);

  /* Similar sessions (search by meaning): asked for once the page is shown, so the
     first screen never waits; an empty answer leaves the list hidden. */
  var similar = document.getElementById("codex-similar");
  if (similar) {
    fetch(new URL(similar.dataset.src, location.href), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (found) {
        var list = similar.querySelector("ul");
        found.forEach(function (item) {
          var link = document.createElement("a");
          link.href = item.url;
          link.textContent = item.title || item.session_id; /* text, never HTML */
          var li = document.createElement("li");
          li.appendChild(link);
          list.appendChild(li);
        });
        similar.hidden = !found.length;
      })
      .catch(function () {});
  }

  showTarget();
})();
