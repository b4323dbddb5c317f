// Keyboard shortcuts for the studio's forms. The pages work without this file: every
// shortcut just clicks a real button (data-shortcut="1".."9", "s", "u").
"use strict";
document.addEventListener("keydown", function (ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  var t = ev.target;
  if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.isContentEditable)) return;
  var key = ev.key.toLowerCase();
  var button = document.querySelector('button[data-shortcut="' + CSS.escape(key) + '"]');
  if (!button) return;
  ev.preventDefault();
  button.click();
});
