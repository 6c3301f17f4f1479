// The cart lives in sessionStorage (one tab, reset with the browser profile); every change is
// also sent to the site so that checkers can see it.
const PRODUCTS = {
  kettle: { name: 'Steel kettle', price: 34.9 },
  mug: { name: 'Blue mug', price: 8.5 },
  teapot: { name: 'Glass teapot', price: 27.0 },
  tea: { name: 'Green tea, 100 g', price: 6.4 },
};
function cart() { return JSON.parse(sessionStorage.getItem('cart') || '{}'); }
function saveCart(c) { sessionStorage.setItem('cart', JSON.stringify(c)); showCount(); }
function showCount() {
  const n = Object.values(cart()).reduce((a, b) => a + b, 0);
  const el = document.getElementById('count');
  if (el) el.textContent = n;
}
function add(id) {
  const c = cart();
  c[id] = (c[id] || 0) + 1;
  saveCart(c);
  fetch('/shop/cart', { method: 'POST', body: new URLSearchParams({ product: id, quantity: c[id] }) });
  document.getElementById('status').textContent = PRODUCTS[id].name + ' added to the cart';
}
showCount();
