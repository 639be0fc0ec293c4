/* Trợ lý Dịch vụ công: web chat widget for provincial portals (docs/webchat.md).
 *
 * Embed with one tag:
 *   <script src="https://SERVER/webchat/widget.js" data-title="Trợ lý Dịch vụ công" async></script>
 * Optional attributes: data-title, data-position="left|right", data-open="true" (open at load).
 *
 * Every text from the server or the user is put in the page with textContent (never as HTML);
 * links are built as elements from http(s) addresses only.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__dvcWebchat) { return; }
  window.__dvcWebchat = true;
  var base = script.src.replace(/\/widget\.js(\?.*)?$/, "");
  var title = script.getAttribute("data-title") || "Trợ lý Dịch vụ công";
  var left = script.getAttribute("data-position") === "left";
  var openAtLoad = script.getAttribute("data-open") === "true";
  var MAX = 4000;
  var KEY_AFTER = "dvc-webchat-after", KEY_LOG = "dvc-webchat-log", KEY_BIG = "dvc-webchat-big", KEY_SEEN = "dvc-webchat-seen";

  function store(kind) { try { return window[kind]; } catch (e) { return null; } }
  function get(kind, key) { var s = store(kind); try { return s ? s.getItem(key) : null; } catch (e) { return null; } }
  function put(kind, key, value) { var s = store(kind); try { if (s) { s.setItem(key, value); } } catch (e) {} }

  var css = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}",
    ".wrap{position:fixed;bottom:16px;" + (left ? "left" : "right") + ":16px;z-index:2147483000;font-size:18px;line-height:1.45;color:#111;display:flex;flex-direction:column;align-items:" + (left ? "flex-start" : "flex-end") + "}",
    ".wrap.big{font-size:22px}",
    "button{font-size:1em;cursor:pointer}",
    "button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".launch{background:#0b3d91;color:#fff;border:0;border-radius:28px;padding:14px 22px;font-weight:600;box-shadow:0 2px 8px rgba(0,0,0,.35)}",
    ".panel{display:none;flex-direction:column;width:min(420px,calc(100vw - 32px));height:min(640px,calc(100vh - 100px));background:#fff;border:2px solid #0b3d91;border-radius:12px;overflow:hidden;margin-bottom:10px;box-shadow:0 4px 16px rgba(0,0,0,.35)}",
    ".panel.open{display:flex}",
    ".head{display:flex;align-items:center;gap:8px;background:#0b3d91;color:#fff;padding:10px 12px}",
    ".head h2{flex:1;margin:0;font-size:1.05em}",
    ".head button{background:#fff;color:#0b3d91;border:0;border-radius:6px;padding:4px 10px;font-weight:700}",
    ".log{flex:1;overflow-y:auto;padding:12px;background:#f4f6fa}",
    ".msg{max-width:92%;margin:0 0 10px;padding:10px 12px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}",
    ".bot{background:#fff;border:1px solid #9aa5b8}",
    ".me{background:#0b3d91;color:#fff;margin-left:auto;width:fit-content}",
    ".msg a{color:#0b3d91;text-decoration:underline}",
    ".msg strong{display:block;margin-bottom:4px}",
    ".row{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}",
    ".choice{background:#fff;color:#0b3d91;border:2px solid #0b3d91;border-radius:8px;padding:8px 12px;text-align:left}",
    ".choice:hover{background:#e8eefb}",
    ".status{min-height:1.2em;padding:0 12px;color:#8a1c1c;font-size:.85em}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #9aa5b8;align-items:flex-end}",
    "label{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "textarea{flex:1;font-size:1em;padding:8px;border:2px solid #59657a;border-radius:8px;resize:none;color:#111}",
    ".send{background:#0b3d91;color:#fff;border:0;border-radius:8px;padding:10px 16px;font-weight:600}"
  ].join("\n");

  var host = document.createElement("div");
  host.id = "dvc-webchat";
  var root = host.attachShadow ? host.attachShadow({mode: "open"}) : host;
  var style = document.createElement("style");
  style.textContent = css;
  root.appendChild(style);

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  var wrap = el("div", "wrap");
  if (get("localStorage", KEY_BIG) === "1") { wrap.classList.add("big"); }
  var panel = el("div", "panel");
  panel.id = "dvc-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  var head = el("div", "head");
  var h2 = el("h2", "", title);
  var bigBtn = el("button", "bigger", "A+");
  bigBtn.type = "button";
  bigBtn.setAttribute("aria-label", "Chữ to hơn");
  bigBtn.setAttribute("aria-pressed", wrap.classList.contains("big") ? "true" : "false");
  var closeBtn = el("button", "close", "Đóng");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", "Đóng khung trò chuyện");
  head.appendChild(h2); head.appendChild(bigBtn); head.appendChild(closeBtn);
  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Tin nhắn");
  log.tabIndex = 0;
  var status = el("div", "status");
  status.setAttribute("role", "status");
  var form = el("form");
  var label = el("label", "", "Nhập câu hỏi của anh/chị");
  label.htmlFor = "dvc-input";
  var input = el("textarea");
  input.id = "dvc-input";
  input.rows = 2;
  input.maxLength = MAX;
  input.placeholder = "Nhập câu hỏi…";
  var send = el("button", "send", "Gửi");
  send.type = "submit";
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(status); panel.appendChild(form);
  var launch = el("button", "launch", "Hỏi đáp dịch vụ công");
  launch.type = "button";
  launch.setAttribute("aria-expanded", "false");
  launch.setAttribute("aria-controls", "dvc-panel");
  wrap.appendChild(panel); wrap.appendChild(launch);
  root.appendChild(wrap);

  var transcript = [];
  try { transcript = JSON.parse(get("sessionStorage", KEY_LOG) || "[]") || []; } catch (e) { transcript = []; }
  var after = parseInt(get("localStorage", KEY_AFTER) || "0", 10) || 0;
  var seen = [];
  try { seen = JSON.parse(get("localStorage", KEY_SEEN) || "[]") || []; } catch (e) { seen = []; }
  var started = false, source = null;

  function remember(item) {
    transcript.push(item);
    if (transcript.length > 60) { transcript = transcript.slice(-60); }
    put("sessionStorage", KEY_LOG, JSON.stringify(transcript));
  }

  function addText(parent, text) {
    // Plain text with http(s) addresses as links: every piece is a text node or an <a> built here.
    var parts = String(text).split(/(https?:\/\/[^\s<>"']+)/);
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) { continue; }
      if (i % 2 === 1) {
        var a = el("a", "", parts[i]);
        a.href = parts[i];
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(parts[i]));
      }
    }
  }

  function show(item, save) {
    var box = el("div", "msg " + (item.me ? "me" : "bot"));
    if (item.title) { box.appendChild(el("strong", "", item.title)); }
    addText(box, item.text || "");
    (item.buttons || []).forEach(function (row) {
      var r = el("div", "row");
      row.forEach(function (b) {
        var btn = el("button", "choice", b.label);
        btn.type = "button";
        btn.addEventListener("click", function () { press(b); });
        r.appendChild(btn);
      });
      box.appendChild(r);
    });
    log.appendChild(box);
    // a long answer is read from its start: its top comes into view, not its end
    log.scrollTop = item.me ? log.scrollHeight : Math.max(0, box.offsetTop - log.offsetTop - 8);
    if (save) { remember(item); }
  }

  function newId() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  function post(path, body, tries) {
    return fetch(base + path, {method: "POST", credentials: "include", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body)})
      .then(function (r) { return r.json().catch(function () { return {ok: false}; }); })
      .catch(function (err) {
        if (tries > 0) {
          return new Promise(function (ok) { setTimeout(ok, 800); }).then(function () { return post(path, body, tries - 1); });
        }
        throw err;
      });
  }

  function deliver(body) {
    status.textContent = "Đang trả lời…";
    send.disabled = true;
    return post("/message", body, 2).then(function (answer) {
      status.textContent = answer.notice || "";  // e.g. a retried message the server had already answered
      (answer.messages || []).forEach(function (m) { show(m, true); });
      if (!answer.ok && !(answer.messages || []).length) {
        status.textContent = "Chưa gửi được, anh/chị thử lại giúp em ạ.";
      }
    }).catch(function () {
      status.textContent = "Mất kết nối, anh/chị thử lại sau ít phút giúp em ạ.";
    }).then(function () { send.disabled = false; });
  }

  function press(b) {
    show({me: true, text: b.label}, true);
    deliver({id: newId(), action: b.action, sig: b.sig});
  }

  function listen() {
    if (source || !window.EventSource) { return; }
    source = new EventSource(base + "/events?after=" + after, {withCredentials: true});
    source.addEventListener("message", function (ev) {
      var id = parseInt(ev.lastEventId, 10) || 0;
      if (id && seen.indexOf(id) >= 0) { return; }  // shown already (a reconnect sends from an older id)
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (id) {
        seen.push(id);
        if (seen.length > 200) { seen = seen.slice(-200); }
        put("localStorage", KEY_SEEN, JSON.stringify(seen));
        if (id > after) { after = id; put("localStorage", KEY_AFTER, String(id)); }
      }
      show(m, true);
    });
    source.addEventListener("cursor", function (ev) {  // a first visit: nothing older is for this page
      var id = parseInt(ev.lastEventId, 10) || 0;
      if (id > after) { after = id; put("localStorage", KEY_AFTER, String(id)); }
    });
    source.onerror = function () {
      if (source && source.readyState === 2) {  // closed for good (refused): try again a little later
        source = null;
        setTimeout(listen, 5000);
      }
    };
  }

  function start() {
    if (started) { return; }
    started = true;
    transcript.forEach(function (m) { show(m, false); });
    post("/session", {}, 2).then(function () {
      listen();
      if (!transcript.length) { deliver({id: newId(), text: "/start"}); }
    }).catch(function () { status.textContent = "Chưa kết nối được, anh/chị thử lại sau ít phút giúp em ạ."; });
  }

  function open() {
    panel.classList.add("open");
    launch.setAttribute("aria-expanded", "true");
    start();
    input.focus();
  }

  function close() {
    panel.classList.remove("open");
    launch.setAttribute("aria-expanded", "false");
    launch.focus();
  }

  launch.addEventListener("click", function () { if (panel.classList.contains("open")) { close(); } else { open(); } });
  closeBtn.addEventListener("click", close);
  bigBtn.addEventListener("click", function () {
    var big = wrap.classList.toggle("big");
    bigBtn.setAttribute("aria-pressed", big ? "true" : "false");
    put("localStorage", KEY_BIG, big ? "1" : "0");
  });
  panel.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { close(); } });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); }
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || send.disabled) { return; }
    if (text.length > MAX) { text = text.slice(0, MAX); }
    input.value = "";
    show({me: true, text: text}, true);
    deliver({id: newId(), text: text});
  });

  function mount() {
    document.body.appendChild(host);
    if (openAtLoad || transcript.length) {
      if (openAtLoad) { open(); } else { start(); }
    }
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
