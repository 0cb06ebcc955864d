// The queue: "N" opens (and claims) the next case, oldest due first.
document.addEventListener("keydown", (ev) => {
  const tag = (ev.target.tagName || "").toLowerCase();
  if (["input", "select", "textarea"].includes(tag) || ev.ctrlKey || ev.altKey || ev.metaKey) return;
  if (ev.key === "n" || ev.key === "N") {
    ev.preventDefault();
    document.getElementById("next-form").requestSubmit();
  }
});
