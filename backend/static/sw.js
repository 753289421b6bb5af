// Service worker: keeps the app shell for offline use and shows an offline page when the
// network is gone. Pages are always fetched fresh first (points and QR codes must be live).
// VERSION is the hash of the static files, filled in when /sw.js is served (backend/pwa.py):
// the pages ask for /static/<file>?v=VERSION, so a deploy brings new URLs, a new worker and
// a new cache, and the old caches are deleted when it activates.
const VERSION = "__STATIC_VERSION__";
const PREFIX = "carbon-shell-";
const CACHE = PREFIX + VERSION;
const SHELL = ["/offline"].concat(
  ["app.css", "logo.svg", "icon-192.png", "pwa.js"].map((f) => "/static/" + f + "?v=" + VERSION)
);

// The resident's vouchers and household card open in the shop's back room without a network:
// each is saved when viewed online (network first) and served from the saved copy when the
// network is gone, with its offline note shown. This cache is kept across deploys and
// deleted when the resident signs out (pwa.js).
const PAGES = "carbon-pages";
const SAVED_PAGES = /^\/(redemptions(\/[0-9]+)?|card)$/;

function savedPage(request, key) {
  return fetch(request).then((response) => {
    if (response.ok && !response.redirected) {
      const copy = response.clone();
      caches.open(PAGES).then((cache) => cache.put(key, copy));
    }
    return response;
  }).catch(() => caches.open(PAGES).then((cache) => cache.match(key)).then((hit) => {
    if (!hit) {
      return caches.match("/offline");
    }
    return hit.text().then((html) => new Response(
      html.replace("data-offline-note hidden", "data-offline-note"),
      {headers: {"Content-Type": "text/html; charset=utf-8"}}
    ));
  }));
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith(PREFIX) && k !== CACHE).map((k) => caches.delete(k))
      ))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate" && SAVED_PAGES.test(url.pathname)) {
    event.respondWith(savedPage(request, url.pathname));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match("/offline")));
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      }))
    );
  }
});

// Web Push: the server sends {title, body, url, tag} (backend/notifications/services.py);
// every message is also in the notification centre.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {body: event.data ? event.data.text() : ""};
  }
  event.waitUntil(self.registration.showNotification(data.title || "碳普惠", {
    body: data.body || "",
    tag: data.tag,
    icon: "/static/icon-192.png?v=" + VERSION,
    data: {url: data.url || "/notifications"},
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});
