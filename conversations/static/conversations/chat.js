// The first cut of the web chat page: connect, show history and new messages, send.
(function () {
  "use strict";
  var script = document.currentScript;
  var bot = script.dataset.bot;
  var log = document.getElementById("log");
  var status = document.getElementById("status");
  var form = document.getElementById("send");
  var input = document.getElementById("text");
  var seen = new Set();
  var socket;

  function show(kind, text) {
    var item = document.createElement("li");
    item.className = kind;
    item.textContent = text; // always text: never interpret what arrives as HTML
    log.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/chat/" + encodeURIComponent(bot) + "/");
    socket.onopen = function () { status.textContent = "Connected"; };
    socket.onclose = function () {
      status.textContent = "Offline, reconnecting…";
      setTimeout(connect, 1000 + Math.random() * 2000);
    };
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "message" && !seen.has(frame.id)) {
        seen.add(frame.id);
        show(frame.sender.kind, frame.text);
      } else if (frame.type === "error") {
        show("error", frame.detail);
      }
    };
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || !socket || socket.readyState !== WebSocket.OPEN) { return; }
    socket.send(JSON.stringify({ type: "message", text: text, client_id: crypto.randomUUID() }));
    input.value = "";
  });

  connect();
})();
