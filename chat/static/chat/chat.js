// The web chat: one socket per page, the protocol of docs/websocket-protocol.md.
// Nothing the server sends is ever shown as HTML except bot HTML, which the server has
// sanitised; participants' text is always text.
(function () {
  "use strict";
  var script = document.currentScript;
  var bot = script.dataset.bot;
  var botName = script.dataset.name || "The bot";
  var log = document.getElementById("log");
  var status = document.getElementById("status");
  var typing = document.getElementById("typing");
  var form = document.getElementById("send");
  var input = document.getElementById("text");
  var storageKey = "botsite:" + bot + ":visitor";
  var seen = new Set();
  var unsent = []; // frames typed while offline; resent with the same client_id
  var pending = new Map(); // client_id -> frame sent but not acknowledged yet
  var retries = 0;
  var lastId = null;
  var attempt = 0;
  var socket = null;

  function stored() {
    try { return window.localStorage.getItem(storageKey); } catch (e) { return null; }
  }
  function store(token) {
    try { if (token) { window.localStorage.setItem(storageKey, token); } } catch (e) { /* private mode */ }
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }

  function show(frame) {
    if (seen.has(frame.id)) { return; }
    seen.add(frame.id);
    lastId = Math.max(lastId || 0, frame.id);
    var item = document.createElement("li");
    item.className = frame.sender.kind;
    item.dataset.id = frame.id;
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = frame.sender.name + ": ";
    item.appendChild(who);
    var body = document.createElement("span");
    body.className = "text";
    if (frame.sender.kind === "bot" && frame.html) {
      body.innerHTML = frame.html; // sanitised by the server (nh3)
    } else {
      body.textContent = frame.text;
    }
    item.appendChild(body);
    // In id order: a reply committed late (or re-sent on reconnect) goes where it belongs.
    var after = log.lastElementChild;
    while (after && after.dataset.id && Number(after.dataset.id) > frame.id) {
      after = after.previousElementSibling;
    }
    log.insertBefore(item, after ? after.nextSibling : log.firstChild);
    log.scrollTop = log.scrollHeight;
  }

  function showError(detail) {
    var item = document.createElement("li");
    item.className = "error";
    item.textContent = detail;
    log.appendChild(item);
  }

  // Exponential backoff with full jitter, so a restarted server is not stampeded.
  function backoff(n) { return Math.random() * Math.min(15000, 500 * Math.pow(2, n)); }

  function setOnline(isOnline) {
    status.textContent = isOnline ? "Connected" : "Offline — reconnecting…";
    status.classList.toggle("offline", !isOnline);
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/chat/" + encodeURIComponent(bot) + "/");
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "hello", visitor: stored(), last_id: lastId }));
    };
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "welcome") {
        attempt = 0;
        store(frame.visitor);
        setOnline(true);
        unsent.splice(0).forEach(function (queued) { send(queued); });
      } else if (frame.type === "message") {
        show(frame);
      } else if (frame.type === "status") {
        setOnline(frame.live); // false: live replies paused; missed ones follow when back
      } else if (frame.type === "typing") {
        typing.textContent = frame.is_typing ? botName + " is typing…" : "";
      } else if (frame.type === "ack") {
        pending.delete(frame.client_id);
        retries = 0;
      } else if (frame.type === "error") {
        showError(frame.detail);
        var refused = frame.code === "unavailable" && pending.get(frame.client_id);
        if (refused) {  // not stored: the same frame again later (stored once, by client_id)
          pending.delete(frame.client_id);
          setTimeout(function () { send(refused); }, backoff(retries));
          retries += 1;
        }
      }
    };
    socket.onclose = function (event) {
      setOnline(false);
      typing.textContent = "";
      // 1009 / 4009: a frame too large, 4003: a binary frame; that frame is lost, not resent.
      var isRefusedFrame = event.code === 1009 || event.code === 4009 || event.code === 4003;
      // Others sent but never acknowledged were perhaps never stored: again after the next
      // welcome, with their client_id.
      if (!isRefusedFrame) { unsent = Array.from(pending.values()).concat(unsent); }
      pending.clear();
      if (event.code === 4404) { status.textContent = "This bot is not available."; return; }
      if (isRefusedFrame) {
        showError("The server refused a message it could not read; it was not sent.");
      }
      // Flooding: start the backoff further on, so the page does not flood again at once.
      if (event.code === 4429) { attempt = Math.max(attempt, 4); }
      setTimeout(connect, backoff(attempt));
      attempt += 1;
    };
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      pending.set(frame.client_id, frame);
      socket.send(JSON.stringify(frame));
    } else {
      unsent.push(frame);
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    send({ type: "message", text: text, client_id: uuid() });
    input.value = "";
    input.focus();
  });

  connect();
})();
