// Evaluated in each page by cdp.py (with --width 1400); its value (JSON) is what
// tangle/tests/book_render.rs's fit-and-finish test asserts on: code blocks wider than their
// box, the contrast of the book's own text (captions, footers, references, figure captions)
// in each of mdBook's five themes, the figures and their text alternatives, and what a search
// shows.
(async function () {
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const out = { ready: document.documentElement.dataset.tangle === 'ready' };

    // Code that does not fit: a <pre>'s code scrolls sideways.
    out.overflow = [];
    out.codeBlocks = 0;
    out.wrappedAt100 = [];
    for (const pre of document.querySelectorAll('.content pre')) {
        const code = pre.querySelector('code') || pre;
        out.codeBlocks++;
        const over = Math.max(code.scrollWidth - code.clientWidth, pre.scrollWidth - pre.clientWidth);
        // Without wrapping, would a block of lines no longer than rustfmt's 100 columns fit?
        const longest = Math.max(...code.textContent.split('\n').map((l) => Array.from(l).length));
        if (longest <= 100) {
            const saved = code.style.whiteSpace;
            code.style.whiteSpace = 'pre';
            const unwrapped = code.scrollWidth - code.clientWidth;
            code.style.whiteSpace = saved;
            if (unwrapped > 1) {
                out.wrappedAt100.push({ over: unwrapped, longest: longest, start: code.textContent.slice(0, 60) });
            }
        }
        if (over > 1) {
            const caption = pre.previousElementSibling;
            out.overflow.push({
                over: over,
                block: caption && caption.classList.contains('tangle-caption') ? caption.id : null,
                start: code.textContent.slice(0, 60),
            });
        }
    }

    // WCAG 2 contrast, from computed styles: the text colour (with its alpha and the
    // opacity of the element and its ancestors) over the effective background, found by
    // compositing the ancestors' backgrounds from the page's up.
    function rgba(s) {
        const m = s.match(/rgba?\(([^)]+)\)/);
        if (!m) {
            return null;
        }
        const p = m[1].split(/[ ,/]+/).filter((x) => x !== '').map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    function over(top, below) {
        const a = top[3];
        return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat([1]);
    }
    function background(el) {
        const layers = [];
        for (let e = el; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c && c[3] > 0) {
                layers.push(c);
                if (c[3] >= 1) {
                    break;
                }
            }
        }
        let bg = [255, 255, 255, 1];
        for (let i = layers.length - 1; i >= 0; i--) {
            bg = over(layers[i], bg);
        }
        return bg;
    }
    function luminance(c) {
        const f = (v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
        };
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    }
    function contrast(el) {
        let fg = rgba(getComputedStyle(el).color);
        let opacity = 1;
        for (let e = el; e; e = e.parentElement) {
            opacity *= Number(getComputedStyle(e).opacity);
        }
        const bg = background(el);
        fg = over([fg[0], fg[1], fg[2], fg[3] * opacity], bg);
        const [a, b] = [luminance(fg), luminance(bg)];
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }
    // Elements holding text of their own, under the book's own chrome.
    const kinds = {
        caption: '.tangle-caption',
        footer: '.tangle-footer',
        reference: 'code a.tangle-ref',
        figcaption: 'figure.tangle-figure figcaption',
        labelRef: 'a.tangle-label-ref',
        index: '.tangle-index',
    };
    function texts(root) {
        const found = [];
        const all = [root, ...root.querySelectorAll('*')];
        for (const e of all) {
            if (e.closest('svg') || e.hidden || getComputedStyle(e).display === 'none') {
                continue;
            }
            const own = Array.from(e.childNodes).some((n) => n.nodeType === 3 && n.data.trim() !== '');
            if (own) {
                found.push(e);
            }
        }
        return found;
    }
    const themes = ['light', 'rust', 'coal', 'navy', 'ayu'];
    const noTransitions = document.createElement('style');
    noTransitions.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }';
    document.head.append(noTransitions);
    out.contrast = {};
    out.lowContrast = [];
    for (const theme of themes) {
        const button = document.getElementById('mdbook-theme-' + theme);
        if (!button) {
            out.contrast[theme] = null;
            continue;
        }
        button.click();
        await frame();
        await frame();
        if (!document.documentElement.classList.contains(theme)) {
            out.contrast[theme] = null;
            continue;
        }
        const per = {};
        for (const [kind, selector] of Object.entries(kinds)) {
            let min = null;
            let count = 0;
            for (const root of document.querySelectorAll(selector)) {
                for (const el of texts(root)) {
                    const c = contrast(el);
                    count++;
                    if (min === null || c < min) {
                        min = c;
                    }
                    if (c < 4.5 && out.lowContrast.length < 20) {
                        out.lowContrast.push({
                            theme: theme,
                            kind: kind,
                            ratio: Math.round(c * 100) / 100,
                            text: el.textContent.trim().slice(0, 40),
                            color: getComputedStyle(el).color,
                            background: background(el).slice(0, 3).map(Math.round).join(','),
                        });
                    }
                }
            }
            per[kind] = { count: count, min: min === null ? null : Math.round(min * 100) / 100 };
        }
        out.contrast[theme] = per;
    }
    document.getElementById('mdbook-theme-light') && document.getElementById('mdbook-theme-light').click();

    // Visited and unvisited references look alike: the rule that styles them wins over
    // mdBook's `.content a:link`. (Chromium hides :visited from scripts; compare the colour
    // a reference has with the one its rule asks for.)
    out.refColours = Array.from(document.querySelectorAll('code a.tangle-ref')).slice(0, 5).map((a) => {
        const code = a.closest('code');
        return { link: getComputedStyle(a).color, inherited: getComputedStyle(a.parentElement).color, inCode: !!code };
    });

    // Figures: each with its caption and a text alternative that reaches the accessibility
    // tree (role img, named by its <title>, described by its <desc>).
    out.figures = Array.from(document.querySelectorAll('figure.tangle-figure')).map((f) => {
        const svg = f.querySelector('svg');
        const byId = (id) => (id ? document.getElementById(id) : null);
        const title = svg && byId(svg.getAttribute('aria-labelledby'));
        const desc = svg && byId(svg.getAttribute('aria-describedby'));
        const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
        return {
            id: f.id,
            caption: f.querySelector('figcaption') ? f.querySelector('figcaption').textContent.trim() : '',
            role: svg ? svg.getAttribute('role') : null,
            title: title ? title.textContent.trim() : '',
            desc: desc ? desc.textContent.trim() : '',
            width: box.width,
            height: box.height,
            fits: svg ? box.width <= f.getBoundingClientRect().width + 1 : false,
            cells: Array.from(f.querySelectorAll('[data-byte]')).map((g) => Number(g.dataset.byte)),
        };
    });
    out.playgrounds = document.querySelectorAll('pre.playground, .play-button').length;

    // The search page: `?search=` shows results once the index is loaded.
    if (new URLSearchParams(location.search).has('search')) {
        let hits = [];
        for (let i = 0; i < 50; i++) {
            hits = document.querySelectorAll('#mdbook-searchresults li');
            if (hits.length) {
                break;
            }
            await sleep(100);
        }
        out.search = Array.from(hits).map((li) => ({
            href: li.querySelector('a') ? li.querySelector('a').getAttribute('href') : null,
            text: li.textContent,
        }));
    }
    return out;
})()
