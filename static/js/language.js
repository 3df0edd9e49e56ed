// Choosing another language submits its form at once. A listener here, not an inline
// onchange attribute: the Content-Security-Policy runs only the product's own script files.
document.addEventListener("change", (event) => {
  if (event.target.id === "language" && event.target.form) event.target.form.submit();
});
