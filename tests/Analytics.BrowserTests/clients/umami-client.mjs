// Drives Umami's own Node client (@umami/node) against the service, one step a run:
//   node umami-client.mjs <hostUrl> <websiteId> <hostname> <pageview|event|event-on-page|identify>
// Prints one JSON line: what the client sent (URL, headers, body) and what it got back.
// The package is CommonJS (main: dist/index.js, no "exports"), so in Node's ESM its default
// instance is module.exports.default; the README's `import umami from '@umami/node'` assumes a bundler.
import { Umami } from '@umami/node';

const [hostUrl, websiteId, hostname, step] = process.argv.slice(2);

// Watch the client's requests without changing them.
const realFetch = globalThis.fetch;
let sent;
globalThis.fetch = (url, init) => {
  sent = { url: String(url), method: init?.method, headers: init?.headers, body: init?.body };
  return realFetch(url, init);
};

const umami = new Umami({ hostUrl, websiteId });

const steps = {
  pageview: () => umami.track({
    hostname,
    url: '/pricing',
    title: 'Pricing',
    referrer: 'https://www.google.com/',
    language: 'en-GB',
    screen: '1280x720',
  }),
  // The client's event API: a name and its data, nothing about the page.
  event: () => umami.track('signup', { plan: 'pro' }),
  // A named event with the page it happened on.
  'event-on-page': () => umami.track({ hostname, url: '/pricing', name: 'signup', data: { plan: 'pro' } }),
  identify: () => umami.identify({ userId: '42' }),
};

if (!steps[step]) {
  console.error(`unknown step '${step}'`);
  process.exit(2);
}

const response = await steps[step]();
console.log(JSON.stringify({
  sent,
  status: response.status,
  contentType: response.headers.get('content-type'),
  body: await response.text(),
}));
