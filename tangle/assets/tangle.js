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
        // From the end, so that earlier offsets stay valid; overlapping edits are dropped.
        edits.sort(function (x, y) { return y.start - x.start; });
        let limit = Infinity;
        edits.forEach(function (e) {
            if (e.end <= limit && replace(code, e.start, e.end, e.el)) {
                limit = e.start;
            }
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
    document.documentElement.dataset.tangle = 'ready';
})();
