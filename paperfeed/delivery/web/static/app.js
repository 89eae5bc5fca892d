// Progressive enhancement only: every form works without this script.
// Upvote buttons vote in place (fetch + the page's CSRF token) instead of reloading the page.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("vote-form")) return;
  event.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) { form.submit(); return; }
    const data = await response.json();
    const voted = data.voted;
    button.classList.toggle("voted", voted);
    button.setAttribute("aria-pressed", voted ? "true" : "false");
    button.querySelector(".count").textContent = data.upvotes;
    form.action = form.action.replace(/\/(upvote|unvote)$/, voted ? "/unvote" : "/upvote");
    const label = button.getAttribute("aria-label") || "";
    button.setAttribute("aria-label", label.replace(/^(Upvote|Remove upvote)/, voted ? "Remove upvote" : "Upvote"));
  } catch (err) {
    form.submit();
  } finally {
    button.disabled = false;
  }
});
