// tangle.js: runs after mdBook's book.js has highlighted the code blocks. It shows each footer's
// text (kept in an attribute, out of the search index). For every tangled block
// (a <pre> right after a div.tangle-caption), it turns each <<name>> reference into a link to
// the fragment's definition and puts each coderef label (moved from the block's footer, where
// the preprocessor left it with its id) in place of the label text at the end of its line.
// Offsets are computed on textContent, which highlighting does not change, so the highlight
// spans stay as they are.
(function () {
    'use strict';

    // Splits text nodes under `root` so that [start, end) of root.textContent is covered by
    // whole text nodes, and returns them in order.
    function cover(root, start, end) {
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        const nodes = [];
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            nodes.push(n);
        }
        const out = [];
        let pos = 0;
        for (let n of nodes) {
            const a = pos;
            const b = pos + n.data.length;
            pos = b;
            if (b <= start || a >= end) {
                continue;
            }
            if (start > a) {
                n = n.splitText(start - a);
            }
            const from = Math.max(a, start);
            if (end < b) {
                n.splitText(end - from);
            }
            out.push(n);
        }
        return out;
    }

    // Replaces [start, end) of root's text with `el` (which carries its own text, if any).
    function replace(root, start, end, el) {
        const nodes = cover(root, start, end);
        if (nodes.length === 0) {
            return false;
        }
        nodes[0].parentNode.insertBefore(el, nodes[0]);
        nodes.forEach(function (n) { n.remove(); });
        return true;
    }

    // Like replace, but keeps the text (and the highlighting around it) and moves it into
    // `el`; text split over several highlight spans is copied into `el` instead.
    function wrap(root, start, end, el) {
        const nodes = cover(root, start, end);
        if (nodes.length === 0) {
            return false;
        }
        const parent = nodes[0].parentNode;
        parent.insertBefore(el, nodes[0]);
        if (nodes.every(function (n) { return n.parentNode === parent; })) {
            nodes.forEach(function (n) { el.appendChild(n); });
        } else {
            el.textContent = nodes.map(function (n) { return n.data; }).join('');
            nodes.forEach(function (n) { n.remove(); });
        }
        return true;
    }

    // The page's table of identifier targets (tangle/src/site/identifiers.rs): data-s → link.
    const symbolTables = new Map();
    function symbolTable(page) {
        if (!symbolTables.has(page)) {
            const table = [];
            const div = document.querySelector('div.tangle-syms[data-page="' + page + '"]');
            if (div) {
                div.querySelectorAll('a[data-s]').forEach(function (a) {
                    table[Number(a.dataset.s)] = a;
                });
            }
            symbolTables.set(page, table);
        }
        return symbolTables.get(page);
    }

    // Identifier links and definition anchors of a block, as edits of its code's text.
    function identifierEdits(footer, text, edits) {
        const starts = [0];
        for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
            starts.push(i + 1);
        }
        footer.querySelectorAll('span.tangle-ids').forEach(function (data) {
            const table = symbolTable(data.dataset.page);
            data.dataset.ids.split(';').forEach(function (entry) {
                const f = entry.split('.').map(Number);
                const sym = table[f[3]];
                if (f[0] >= starts.length || !sym) {
                    return;
                }
                const a = document.createElement('a');
                a.className = sym.className;
                a.href = sym.getAttribute('href');
                a.title = sym.title;
                const start = starts[f[0]] + f[1];
                edits.push({ start: start, end: start + f[2], el: a, wrap: true });
            });
        });
        footer.querySelectorAll('span.tangle-def').forEach(function (def) {
            const line = Number(def.dataset.line);
            if (line >= starts.length) {
                return;
            }
            const start = starts[line] + Number(def.dataset.col);
            def.hidden = false;
            edits.push({ start: start, end: start + Number(def.dataset.len), el: def, wrap: true });
        });
    }

    function refLink(name, target) {
        const a = document.createElement('a');
        a.className = 'tangle-ref';
        a.href = target.getAttribute('href');
        a.title = '«' + name + '» ' + (target.dataset.tag || '');
        const open = document.createElement('span');
        open.className = 'tangle-angle';
        open.textContent = '<<';
        const close = open.cloneNode();
        close.textContent = '>>';
        a.append(open, name, close);
        return a;
    }

    function lineStart(text, line) {
        let at = 0;
        for (let i = 0; i < line; i++) {
            const nl = text.indexOf('\n', at);
            if (nl < 0) {
                return -1;
            }
            at = nl + 1;
        }
        return at;
    }

    function processBlock(caption) {
        const pre = caption.nextElementSibling;
        if (!pre || pre.tagName !== 'PRE') {
            return;
        }
        const code = pre.querySelector('code');
        const footer = pre.nextElementSibling;
        if (!code || !footer || !footer.classList.contains('tangle-footer')) {
            return;
        }
        const text = code.textContent;
        const edits = [];
        footer.querySelectorAll('a.tangle-ref-target').forEach(function (target) {
            const name = target.dataset.name;
            const pattern = '<<' + name + '>>';
            for (let i = text.indexOf(pattern); i >= 0; i = text.indexOf(pattern, i + pattern.length)) {
                edits.push({ start: i, end: i + pattern.length, el: refLink(name, target) });
            }
        });
        footer.querySelectorAll('span.tangle-label').forEach(function (label) {
            const label_text = label.dataset.text;
            const start = lineStart(text, Number(label.dataset.line));
            if (start < 0) {
                return;
            }
            let end = text.indexOf('\n', start);
            if (end < 0) {
                end = text.length;
            }
            let at = text.lastIndexOf(label_text, end - label_text.length);
            if (at < start) {
                return;
            }
            let from = at;
            while (from > start && (text[from - 1] === ' ' || text[from - 1] === '\t')) {
                from--;
            }
            label.hidden = false;
            edits.push({ start: from, end: at + label_text.length, el: label });
        });
        identifierEdits(footer, text, edits);
        // From the end, so that earlier offsets stay valid; overlapping edits are dropped.
        edits.sort(function (x, y) { return y.start - x.start; });
        let limit = Infinity;
        edits.forEach(function (e) {
            if (e.end <= limit && (e.wrap ? wrap : replace)(code, e.start, e.end, e.el)) {
                limit = e.start;
            }
        });
        // "Used in" lands on the first reference to each fragment: its anchor wraps the link.
        footer.querySelectorAll('span.tangle-use').forEach(function (use) {
            const name = use.dataset.name;
            const link = Array.from(code.querySelectorAll('a.tangle-ref')).find(function (a) {
                return a.textContent === '<<' + name + '>>';
            });
            if (link) {
                link.before(use);
                use.appendChild(link);
                use.hidden = false;
            }
        });
        // Peek: a control after each reference shows the fragment's code in place.
        code.querySelectorAll('a.tangle-ref').forEach(function (a) {
            const b = document.createElement('button');
            b.type = 'button';
            b.className = 'tangle-peek';
            b.title = 'show ' + a.title.replace(/ [^ ]*$/, '') + ' here';
            b.setAttribute('aria-expanded', 'false');
            a.after(b);
        });
        pre.classList.add('tangle-code');
    }

    // Footers' text comes in an attribute, so that mdBook's search index leaves it out.
    // On the print page, where every chapter is one page, links stay on it, as mdBook makes
    // the page's other links (it cannot see these, which are an attribute's text).
    const printPage = /(^|\/)print\.html$/.test(location.pathname);
    document.querySelectorAll('span.tangle-footer-text[data-text]').forEach(function (span) {
        span.innerHTML = span.dataset.text;
        span.removeAttribute('data-text');
        if (printPage) {
            span.querySelectorAll('a[href*="#"]').forEach(function (a) {
                a.setAttribute('href', a.getAttribute('href').replace(/^[^#]*/, ''));
            });
        }
    });
    document.querySelectorAll('div.tangle-caption').forEach(processBlock);

    // Peek. The parts of a fragment are found from its caption on, following the captions'
    // "next part" links, on this page or on pages fetched (then highlighted and processed
    // here, their links made absolute, their ids dropped).
    const pages = new Map();
    function pageOf(url) {
        const path = url.pathname + url.search;
        if (url.pathname === location.pathname) {
            return Promise.resolve(document);
        }
        if (!pages.has(path)) {
            pages.set(path, fetch(path).then(function (res) {
                if (!res.ok) {
                    throw new Error(res.status + ' ' + path);
                }
                return res.text();
            }).then(function (html) {
                return new DOMParser().parseFromString(html, 'text/html');
            }));
        }
        return pages.get(path);
    }

    function absolute(el, base) {
        el.querySelectorAll('a[href]').forEach(function (a) {
            a.href = new URL(a.getAttribute('href'), base).href;
        });
    }

    function stripIds(el) {
        el.removeAttribute('id');
        el.querySelectorAll('[id]').forEach(function (x) { x.removeAttribute('id'); });
        el.querySelectorAll('.tangle-peek-box').forEach(function (x) { x.remove(); });
        el.querySelectorAll('.tangle-peek').forEach(function (x) { x.setAttribute('aria-expanded', 'false'); });
    }

    let holder = null;
    // A processed copy of the block under `caption` of `doc` (fetched from `base`).
    function partFrom(doc, caption, base) {
        const pre = caption.nextElementSibling;
        if (doc === document) {
            const copy = pre.cloneNode(true);
            stripIds(copy);
            return copy;
        }
        if (!holder) {
            holder = document.createElement('div');
            holder.hidden = true;
            holder.className = 'tangle-peek-holder';
            document.body.appendChild(holder);
        }
        const footer = pre.nextElementSibling;
        const box = document.createElement('div');
        [caption, pre, footer].forEach(function (el) {
            box.appendChild(document.importNode(el, true));
        });
        absolute(box, base);
        stripIds(box);
        const spans = footer ? footer.querySelector('span.tangle-ids') : null;
        if (spans && !document.querySelector('div.tangle-syms[data-page="' + spans.dataset.page + '"]')) {
            const table = doc.querySelector('div.tangle-syms[data-page="' + spans.dataset.page + '"]');
            if (table) {
                const copy = document.importNode(table, true);
                absolute(copy, base);
                holder.appendChild(copy);
            }
        }
        holder.appendChild(box);
        const code = box.querySelector('pre code');
        if (code && window.hljs && !code.classList.contains('hljs')) {
            if (hljs.highlightBlock) {
                hljs.highlightBlock(code);
            } else if (hljs.highlightElement) {
                hljs.highlightElement(code);
            }
        }
        processBlock(box.firstElementChild);
        const out = box.querySelector('pre');
        box.remove();
        return out;
    }

    async function fragmentParts(href) {
        const parts = [];
        let url = new URL(href, location.href);
        for (let n = 0; n < 100; n++) {
            const doc = await pageOf(url);
            const caption = doc.getElementById(decodeURIComponent(url.hash.slice(1)));
            if (!caption || !caption.classList.contains('tangle-caption')) {
                break;
            }
            const title = caption.querySelector('.tangle-title');
            const tag = caption.querySelector('a.tangle-tag');
            parts.push({
                title: title ? title.textContent : '',
                tag: tag ? tag.textContent : '',
                href: url.href,
                pre: partFrom(doc, caption, url),
            });
            const next = caption.querySelector('a.tangle-next');
            if (!next) {
                break;
            }
            url = new URL(next.getAttribute('href'), url);
        }
        return parts;
    }

    // Where a box shown for the reference before `button` goes: after the end of its line.
    function afterLine(button) {
        // The code the button is in: a peeked part's, or the block's.
        const scope = button.closest('.tangle-peek-code') || button.closest('code');
        const own = button.closest('.tangle-peek-box');
        const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
        walker.currentNode = button;
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if (n.parentNode.closest('.tangle-peek-box') !== own) {
                continue; // in a box opened below this one
            }
            const i = n.data.indexOf('\n');
            if (i >= 0) {
                const rest = n.splitText(i + 1);
                return { parent: rest.parentNode, before: rest };
            }
        }
        return { parent: scope, before: null };
    }

    async function peek(button) {
        if (button.dataset.busy) {
            return;
        }
        const open = button.tangleBox;
        if (open) {
            open.remove();
            button.tangleBox = null;
            button.setAttribute('aria-expanded', 'false');
            return;
        }
        const ref = button.previousElementSibling;
        const link = ref && (ref.matches('a.tangle-ref') ? ref : ref.querySelector('a.tangle-ref'));
        if (!link) {
            return;
        }
        button.dataset.busy = '1';
        const box = document.createElement('span');
        box.className = 'tangle-peek-box';
        try {
            const parts = await fragmentParts(link.getAttribute('href'));
            if (parts.length === 0) {
                throw new Error('no fragment at ' + link.getAttribute('href'));
            }
            const head = document.createElement('span');
            head.className = 'tangle-peek-head';
            const name = document.createElement('a');
            name.href = parts[0].href;
            name.textContent = parts[0].title + ' ' + parts.map(function (p) { return p.tag; }).join(', ');
            const all = document.createElement('button');
            all.type = 'button';
            all.className = 'tangle-peek-all';
            all.textContent = 'expand all';
            all.title = 'show every fragment this one uses, in place';
            head.append(name, all);
            box.appendChild(head);
            parts.forEach(function (p) {
                const body = document.createElement('span');
                body.className = 'tangle-peek-code';
                const code = p.pre.querySelector('code');
                body.append.apply(body, Array.from(code ? code.childNodes : []));
                box.appendChild(body);
            });
        } catch (e) {
            box.textContent = 'cannot show the fragment here (' + e.message + '): follow the link.';
        }
        const at = afterLine(button);
        at.parent.insertBefore(box, at.before);
        button.tangleBox = box;
        button.setAttribute('aria-expanded', 'true');
        delete button.dataset.busy;
    }

    // Opens every reference inside `box`, and those inside what they show, to `depth` levels.
    async function expandAll(box, depth) {
        if (depth <= 0) {
            return;
        }
        const closed = Array.from(box.querySelectorAll('button.tangle-peek')).filter(function (b) {
            return !b.tangleBox && b.closest('.tangle-peek-box') === box;
        });
        for (const b of closed) {
            await peek(b);
        }
        for (const b of closed) {
            if (b.tangleBox) {
                await expandAll(b.tangleBox, depth - 1);
            }
        }
    }

    document.addEventListener('click', function (ev) {
        const b = ev.target.closest && ev.target.closest('button.tangle-peek, button.tangle-peek-all');
        if (!b) {
            return;
        }
        ev.preventDefault();
        if (b.classList.contains('tangle-peek')) {
            peek(b);
        } else {
            expandAll(b.closest('.tangle-peek-box'), 20);
        }
    });

    // A link to a place in code (a definition, a reference's line) that the processing above
    // moved into it: scroll there once it is in place.
    function toTarget() {
        const id = decodeURIComponent(location.hash.slice(1));
        const el = id && document.getElementById(id);
        if (el && el.closest('pre')) {
            el.scrollIntoView({ block: 'center' });
        }
    }
    toTarget();
    document.documentElement.dataset.tangle = 'ready';
})();
