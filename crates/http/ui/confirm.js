// The confirmation step of every action: a modal <dialog> (the browser traps the focus
// in it, Escape cancels, and the focus goes back to where it was when it closes).

const dialog = () => document.getElementById('confirm');

/** Resolves true when the operator confirms, false when they cancel. */
export function confirmAction({ title, text, ok = 'Confirm', danger = false }) {
  const d = dialog();
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const okButton = document.getElementById('confirm-ok');
  okButton.textContent = ok;
  okButton.classList.toggle('danger', danger);
  const opener = document.activeElement;
  d.returnValue = '';
  return new Promise((resolve) => {
    d.addEventListener(
      'close',
      () => {
        // The opener may have been re-rendered by a live update meanwhile.
        const back = opener && opener.id ? document.getElementById(opener.id) : null;
        if (back) back.focus();
        resolve(d.returnValue === 'ok');
      },
      { once: true },
    );
    d.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}
