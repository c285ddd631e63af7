// Embeds a bot's chat on any page of an allowed site with one tag:
//   <script src="https://bots.example.com/widget.js" data-bot="demo"></script>
// The chat runs in a frame served by the bot's site; the site refuses to be framed by
// pages it does not allow (Content-Security-Policy frame-ancestors).
(function () {
  "use strict";
  var script = document.currentScript;
  var bot = script.dataset.bot;
  var base = new URL(script.src).origin;
  var label = script.dataset.label || "Chat";
  var open = false;

  var button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "botsite-widget-" + bot);
  button.style.cssText = "position:fixed;right:1rem;bottom:1rem;z-index:2147483646;" +
    "border:0;border-radius:2rem;padding:0.8rem 1.2rem;font:600 1rem system-ui,sans-serif;" +
    "background:#2563eb;color:#fff;box-shadow:0 4px 16px rgba(0,0,0,.25);cursor:pointer";

  var frame = document.createElement("iframe");
  frame.id = "botsite-widget-" + bot;
  frame.title = "Chat with " + bot;
  frame.src = base + "/chat/" + encodeURIComponent(bot) + "/?embed=1";
  frame.hidden = true;
  frame.style.cssText = "position:fixed;right:1rem;bottom:4.5rem;z-index:2147483647;" +
    "width:min(380px,calc(100vw - 2rem));height:min(560px,calc(100vh - 6rem));" +
    "border:1px solid #8886;border-radius:0.8rem;background:#fff;" +
    "box-shadow:0 8px 32px rgba(0,0,0,.3)";

  button.addEventListener("click", function () {
    open = !open;
    frame.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? "Close" : label;
  });

  document.body.appendChild(frame);
  document.body.appendChild(button);
})();
