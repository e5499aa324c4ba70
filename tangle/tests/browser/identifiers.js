// Evaluated in each page by cdp.py (for tangle/tests/book_identifiers.rs): identifier links in
// code and where they land, prose links, the mini-index; with `?peek` in the URL, opens peeks;
// with a `#u:` hash, reports where "used in" landed.
(async function () {
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const pages = new Map();
    async function docOf(url) {
        if (url.pathname === location.pathname) {
            return document;
        }
        if (!pages.has(url.pathname)) {
            const res = await fetch(url.pathname);
            const html = res.ok ? await res.text() : null;
            pages.set(url.pathname, html && new DOMParser().parseFromString(html, 'text/html'));
        }
        return pages.get(url.pathname);
    }
    // Where a link lands: the element, whether it is in a tangled block's code, that block's id.
    async function landing(href) {
        const url = new URL(href, location.href);
        const doc = await docOf(url);
        const el = doc && doc.getElementById(decodeURIComponent(url.hash.slice(1)));
        if (!el) {
            return { found: false };
        }
        const pre = el.closest('pre') || (el.closest('.tangle-footer') && el.closest('.tangle-footer').previousElementSibling);
        const caption = pre && pre.previousElementSibling;
        return {
            found: true,
            text: el.textContent,
            // In the static page the anchor waits in the block's footer for tangle.js.
            inBlock: !!caption && caption.classList.contains('tangle-caption'),
            block: caption ? caption.id : null,
        };
    }
    const out = { ready: document.documentElement.dataset.tangle === 'ready' };
    const links = Array.from(document.querySelectorAll('pre code a.tangle-ident'));
    out.identLinks = links.length;
    out.extLinks = links.filter((a) => a.classList.contains('tangle-ext')).length;
    out.defs = document.querySelectorAll('pre code .tangle-def').length;
    out.offPage = links.filter((a) => !a.classList.contains('tangle-ext') && !a.getAttribute('href').startsWith('#')).length;
    out.defsLeftInFooters = document.querySelectorAll('.tangle-footer .tangle-def').length;
    out.withTitle = links.filter((a) => a.title.length > 0).length;
    out.inHighlighted = links.filter((a) => !!a.closest('code.hljs')).length;
    const watched = ['Phase', 'Message', 'Next', 'Limits', 'on_client_event'];
    out.watched = [];
    for (const a of links) {
        if (watched.includes(a.textContent) && !a.classList.contains('tangle-ext')) {
            const l = await landing(a.getAttribute('href'));
            out.watched.push({ name: a.textContent, href: a.getAttribute('href'), title: a.title, landing: l });
        }
    }
    out.ext = links.filter((a) => a.classList.contains('tangle-ext')).slice(0, 3).map((a) => a.getAttribute('href'));
    out.prose = [];
    for (const a of document.querySelectorAll('a.tangle-prose')) {
        out.prose.push({ text: a.textContent, landing: await landing(a.getAttribute('href')) });
    }
    out.miniIndex = document.querySelectorAll('.tangle-mini-index a').length;
    out.useLinks = Array.from(document.querySelectorAll('.tangle-footer a.tangle-xref'))
        .map((a) => a.getAttribute('href'))
        .filter((h) => /#u:/.test(h));
    out.peekButtons = document.querySelectorAll('pre code button.tangle-peek').length;

    if (location.hash.startsWith('#u:')) {
        await sleep(200);
        const el = document.getElementById(decodeURIComponent(location.hash.slice(1)));
        const r = el && el.getBoundingClientRect();
        const before = el && getComputedStyle(el, '::before');
        out.landed = el && {
            inCode: !!el.closest('pre code'),
            target: el.matches(':target'),
            ref: el.querySelector('a.tangle-ref') ? el.querySelector('a.tangle-ref').textContent : null,
            visible: r.top >= 0 && r.bottom <= innerHeight,
            marked: before.content !== 'none' && before.backgroundColor !== 'rgba(0, 0, 0, 0)',
        };
    }

    if (location.search.includes('peek')) {
        out.peeks = [];
        // The first reference to a fragment on another page, and the first to one on this page.
        const buttons = Array.from(document.querySelectorAll('pre code button.tangle-peek'));
        const refOf = (b) => b.previousElementSibling;
        const other = buttons.find((b) => new URL(refOf(b).href).pathname !== location.pathname);
        const here = buttons.filter((b) => new URL(refOf(b).href).pathname === location.pathname);
        // On this page, preferably one whose fragment uses others (for "expand all").
        const usesOthers = (b) => {
            const c = document.getElementById(decodeURIComponent(new URL(refOf(b).href).hash.slice(1)));
            return !!c && !!c.nextElementSibling.querySelector('a.tangle-ref');
        };
        const same = here.find(usesOthers) || here[0];
        for (const b of [other, same].filter(Boolean)) {
            const ref = refOf(b);
            const l = await landing(ref.getAttribute('href'));
            const url = new URL(ref.href);
            const doc = await docOf(url);
            const caption = doc.getElementById(decodeURIComponent(url.hash.slice(1)));
            const expected = caption.nextElementSibling.querySelector('code').textContent
                .split('\n').map((s) => s.replace(/\s*\(ref:[^)]*\)\s*$/, '')).filter((s) => s.trim())[0];
            b.click();
            for (let i = 0; i < 100 && !b.tangleBox; i++) {
                await sleep(50);
            }
            const box = b.tangleBox;
            const p = {
                ref: ref.textContent,
                crossPage: b === other,
                landing: l,
                opened: !!box,
                expanded: b.getAttribute('aria-expanded'),
                inCode: !!box && !!box.closest('pre code'),
                holdsFirstLine: !!box && box.textContent.includes(expected.trim()),
                stayed: location.href,
                links: box ? box.querySelectorAll('a.tangle-ident').length : 0,
                highlighted: box ? box.querySelectorAll('span[class^="hljs-"]').length : 0,
            };
            if (box) {
                const all = box.querySelector('button.tangle-peek-all');
                all.click();
                for (let i = 0; i < 200; i++) {
                    await sleep(50);
                    const closed = box.querySelectorAll('button.tangle-peek[aria-expanded="false"]').length;
                    if (closed === 0) {
                        break;
                    }
                }
                p.nested = box.querySelectorAll('.tangle-peek-box').length;
                p.closedAfterExpandAll = box.querySelectorAll('button.tangle-peek[aria-expanded="false"]').length;
                b.click();
                p.closedAgain = !b.tangleBox && !box.isConnected;
            }
            out.peeks.push(p);
        }
    }
    return out;
})()
