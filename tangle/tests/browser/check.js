// Evaluated in each page by cdp.py after the load event; its value (JSON) is what
// tangle/tests/book_render.rs asserts on.
(async function () {
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const idOf = (url) => decodeURIComponent(url.hash.slice(1));
    const cache = new Map();
    async function targetExists(href) {
        const url = new URL(href, location.href);
        if (url.pathname === location.pathname) {
            return url.hash === '' || document.getElementById(idOf(url)) !== null;
        }
        if (!cache.has(url.pathname)) {
            const res = await fetch(url.pathname);
            const html = res.ok ? await res.text() : null;
            cache.set(url.pathname, html && new DOMParser().parseFromString(html, 'text/html'));
        }
        const doc = cache.get(url.pathname);
        return !!doc && (url.hash === '' || doc.getElementById(idOf(url)) !== null);
    }
    const out = {};
    out.ready = document.documentElement.dataset.tangle === 'ready';
    out.title = document.title;
    out.captions = Array.from(document.querySelectorAll('div.tangle-caption')).map((c) => ({
        id: c.id,
        text: c.textContent,
        dfn: c.querySelector('dfn') ? c.querySelector('dfn').textContent : null,
    }));
    out.blocks = [];
    for (const c of document.querySelectorAll('div.tangle-caption')) {
        const pre = c.nextElementSibling;
        const code = pre && pre.querySelector('code');
        out.blocks.push({
            id: c.id,
            pre: !!pre && pre.tagName === 'PRE',
            hljs: !!code && code.classList.contains('hljs'),
            spans: code ? code.querySelectorAll('span[class^="hljs-"]').length : 0,
            refs: code ? code.querySelectorAll('a.tangle-ref').length : 0,
            playground: !!pre && (pre.classList.contains('playground') || !!pre.querySelector('.play-button')),
            text: code ? code.textContent : null,
        });
    }
    out.refs = [];
    for (const a of document.querySelectorAll('a.tangle-ref')) {
        out.refs.push({
            text: a.textContent,
            href: a.getAttribute('href'),
            ok: await targetExists(a.getAttribute('href')),
            inHighlightedCode: !!a.closest('code.hljs'),
        });
    }
    out.xrefs = [];
    for (const a of document.querySelectorAll('.tangle-caption a, .tangle-footer a, a.tangle-label-ref, .tangle-index a')) {
        out.xrefs.push({ href: a.getAttribute('href'), ok: await targetExists(a.getAttribute('href')) });
    }
    out.labels = Array.from(document.querySelectorAll('.tangle-label')).map((l) => ({
        id: l.id,
        inCode: !!l.closest('code'),
        shown: !l.hidden && getComputedStyle(l, '::before').content,
    }));
    out.labelRefs = Array.from(document.querySelectorAll('a.tangle-label-ref')).map((a) => a.getAttribute('href'));
    out.playgrounds = document.querySelectorAll('pre.playground').length;
    out.leftoverLabelText = Array.from(document.querySelectorAll('pre.tangle-code code'))
        .some((c) => /\(ref:[^)]*\)\s*$/m.test(c.textContent));
    // The search page: `?search=` shows results once the index is loaded.
    if (new URLSearchParams(location.search).has('search')) {
        for (let i = 0; i < 50; i++) {
            const hits = document.querySelectorAll('#mdbook-searchresults li, #searchresults li');
            if (hits.length) {
                break;
            }
            await sleep(100);
        }
        out.searchResults = Array.from(document.querySelectorAll('#mdbook-searchresults li a, #searchresults li a')).map((a) => a.getAttribute('href'));
    }
    return out;
})()
