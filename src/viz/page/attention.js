(function () {
  'use strict';
  const DATA = JSON.parse(document.getElementById('attend-data').textContent);
  const VIRIDIS = /*@VIRIDIS@*/null;
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
                   '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const MASKED = '#e8e8e8', MEAN_COLOUR = '#3a5fcd', FOCUS = '#ff5a1f';
  const LINE_BUDGET = 20000;  // SVG lines drawn at most in the head view
  const SVGNS = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);

  // ---- state --------------------------------------------------------------------------
  // head: 'all' (every head, each in its colour), 'mean' (averaged) or a head number.
  // focus: the token whose attention is shown, {side: 'q' | 'k', index}; pinned by a click,
  // previewed by hovering.
  // stretch: the matrix colours run from 0 to the largest weight shown instead of 0 to 1.
  const state = { map: 0, layer: 0, head: 'all', pinned: null, hover: null, stretch: false };
  const map = () => DATA.maps[state.map];
  const focus = () => state.hover || state.pinned;
  const nHeads = () => map().n_heads;

  function headColour(h) {
    return h < PALETTE.length ? PALETTE[h] : 'hsl(' + ((h * 137.508) % 360).toFixed(1) + ', 62%, 45%)';
  }
  function viridis(t) {
    t = Math.min(1, Math.max(0, t || 0));
    const s = t * 10, i = Math.min(9, Math.floor(s)), f = s - i;
    const a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return 'rgb(' + [0, 1, 2].map((c) => Math.round((1 - f) * a[c] + f * b[c])).join(',') + ')';
  }
  function label(token) {  // what a person reads: ends trimmed, invisible characters written out
    const s = token.replace(/\n/g, '\\n').replace(/\t/g, '\\t').trim();
    return s === '' ? '\u2423' : s;
  }
  function masked(m, q, k) { return m.causal && k > q + (m.key_tokens.length - m.query_tokens.length); }
  // The weights shown: one matrix per shown head, or the mean as one matrix.
  function shownHeads() {
    if (state.head === 'all') return [...Array(nHeads()).keys()];
    if (state.head === 'mean') return ['mean'];
    return [state.head];
  }
  function weight(h, q, k) {
    const W = map().weights[state.layer];
    if (h !== 'mean') return W[h][q][k];
    let s = 0;
    for (let i = 0; i < W.length; ++i) s += W[i][q][k];
    return s / W.length;
  }
  function colourOf(h) { return h === 'mean' ? MEAN_COLOUR : headColour(h); }

  // ---- controls -----------------------------------------------------------------------
  function option(select, value, text) {
    const o = document.createElement('option');
    o.value = String(value);
    o.textContent = text;
    select.appendChild(o);
  }
  function buildKinds() {
    const kind = $('kind');
    DATA.maps.forEach((m, i) => option(kind, i, m.title));
    kind.addEventListener('change', () => {
      state.map = Number(kind.value);
      state.pinned = state.hover = null;  // different tokens
      state.layer = Math.min(state.layer, map().n_layers - 1);
      if (state.head !== 'all' && state.head !== 'mean' && state.head >= nHeads()) state.head = 'all';
      buildLayers();
      buildHeads();
      render();
    });
  }
  function buildLayers() {
    const layer = $('layer');
    layer.innerHTML = '';
    for (let l = 0; l < map().n_layers; ++l) option(layer, l, String(l) + ' of ' + map().n_layers);
    layer.value = String(state.layer);
  }
  function setLayer(l) {
    state.layer = Math.max(0, Math.min(map().n_layers - 1, l));
    $('layer').value = String(state.layer);
    render();
  }
  function buildHeads() {
    const head = $('head'), chips = $('chips');
    head.innerHTML = '';
    chips.innerHTML = '';
    option(head, 'all', 'all heads (colour)');
    option(head, 'mean', 'mean of heads');
    for (let h = 0; h < nHeads(); ++h) {
      option(head, h, 'head ' + h);
      const chip = document.createElement('button');
      chip.className = 'chip';
      chip.dataset.head = String(h);
      chip.title = 'head ' + h;
      chip.textContent = String(h);
      chip.style.background = headColour(h);
      chip.addEventListener('click', () => setHead(state.head === h ? 'all' : h));
      chips.appendChild(chip);
    }
    head.value = String(state.head);
  }
  function setHead(h) {
    state.head = h;
    $('head').value = String(h);
    render();
  }
  function wireControls() {
    $('layer').addEventListener('change', () => setLayer(Number($('layer').value)));
    $('prev-layer').addEventListener('click', () => setLayer(state.layer - 1));
    $('next-layer').addEventListener('click', () => setLayer(state.layer + 1));
    $('stretch').addEventListener('change', () => { state.stretch = $('stretch').checked; render(); });
    $('head').addEventListener('change', () => {
      const v = $('head').value;
      setHead(v === 'all' || v === 'mean' ? v : Number(v));
    });
  }

  // ---- head view (SVG) -----------------------------------------------------------------
  const measure = document.createElement('canvas').getContext('2d');
  function textWidth(s, font) { measure.font = font; return measure.measureText(s).width; }

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVGNS, name);
    for (const a in attrs) e.setAttribute(a, attrs[a]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function renderHeadView() {
    const m = map(), svg = $('lines');
    svg.innerHTML = '';
    const Tq = m.query_tokens.length, Tk = m.key_tokens.length, n = Math.max(Tq, Tk);
    const rowH = n > 40 ? 16 : 22, top = 34, font = '13px system-ui, sans-serif';
    const qhead = m.query_side + ' (queries)', khead = m.key_side + ' (keys)';
    const qw = Math.max(60, textWidth(qhead, '12px system-ui, sans-serif'),
                        ...m.query_tokens.map((t) => textWidth(label(t), font))) + 16;
    const kw = Math.max(90, ...m.key_tokens.map((t) => textWidth(label(t), font))) + 16;
    const gap = 200, xq = qw, xk = qw + gap, width = qw + gap + kw + 60;
    svg.setAttribute('width', width);
    svg.setAttribute('height', top + n * rowH + 22);
    el('text', { x: xq - 4, y: 14, 'text-anchor': 'end', class: 'colhead' }, svg).textContent = qhead;
    el('text', { x: xk + 4, y: 14, class: 'colhead' }, svg).textContent = khead;
    const yOf = (i) => top + i * rowH + rowH / 2;

    const f = focus(), heads = shownHeads();
    const edges = el('g', { id: 'edges' }, svg);
    const bars = el('g', { id: 'bars' }, svg);
    let lines = [];
    for (const h of heads)
      for (let q = 0; q < Tq; ++q) {
        if (f && f.side === 'q' && f.index !== q) continue;
        for (let k = 0; k < Tk; ++k) {
          if (f && f.side === 'k' && f.index !== k) continue;
          const w = weight(h, q, k);
          if (w >= 0.005) lines.push([w, h, q, k]);  // fainter lines are invisible anyway
        }
      }
    // A long input with every head shown can ask for 10⁵ lines: keep the strongest.
    const total = lines.length;
    if (total > LINE_BUDGET) lines = lines.sort((a, b) => b[0] - a[0]).slice(0, LINE_BUDGET);
    for (const [w, h, q, k] of lines)
      el('line', { x1: xq + 2, y1: yOf(q), x2: xk - 2, y2: yOf(k), stroke: colourOf(h),
                   'stroke-opacity': w.toFixed(4), 'stroke-width': f ? 2.5 : 2,
                   'data-q': q, 'data-k': k, 'data-h': h }, edges);
    if (total > lines.length)
      el('text', { x: xq, y: top + n * rowH + 14, class: 'colhead' }, svg).textContent =
        'the strongest ' + lines.length + ' of ' + total + ' lines; pin a token to see all of its own';
    // With a focus, bars on the other column show the weight (averaged over the shown heads).
    if (f) {
      const others = f.side === 'q' ? Tk : Tq;
      for (let j = 0; j < others; ++j) {
        let w = 0;
        for (const h of heads) w += f.side === 'q' ? weight(h, f.index, j) : weight(h, j, f.index);
        w /= heads.length;
        const x = f.side === 'q' ? xk + 2 : xq - 2 - w * (qw - 8);
        el('rect', { x: x, y: yOf(j) - rowH / 2 + 3, width: Math.max(0, w * ((f.side === 'q' ? kw : qw) - 8)),
                     height: rowH - 6, fill: heads.length === 1 ? colourOf(heads[0]) : MEAN_COLOUR,
                     'fill-opacity': 0.22, 'data-w': w.toFixed(4) }, bars);
      }
    }
    const column = (tokens, side, x, anchor) => tokens.forEach((t, i) => {
      const g = el('g', { class: 'token ' + side + (f && f.side === side && f.index === i ? ' focus' : ''),
                          'data-side': side, 'data-index': i }, svg);
      const w = (side === 'q' ? qw : kw) - 8;
      el('rect', { class: 'bg', x: anchor === 'end' ? x - w : x, y: yOf(i) - rowH / 2 + 1, width: w,
                   height: rowH - 2, rx: 4 }, g);
      const text = el('text', { x: anchor === 'end' ? x - 6 : x + 6, y: yOf(i), 'text-anchor': anchor }, g);
      text.textContent = label(t);
      el('title', {}, g).textContent = JSON.stringify(t) + ' (' + (side === 'q' ? 'query ' : 'key ') + i + ')';
    });
    column(m.query_tokens, 'q', xq, 'end');
    column(m.key_tokens, 'k', xk, 'start');
  }

  // The token elements are redrawn on every change, so the mouse is followed on the <svg>,
  // which stays: a token replaced under the pointer would never see its mouseleave.
  function tokenAt(ev) {
    const g = ev.target.closest ? ev.target.closest('.token') : null;
    return g ? { side: g.dataset.side, index: Number(g.dataset.index) } : null;
  }
  const same = (a, b) => (a === null && b === null) || (a && b && a.side === b.side && a.index === b.index);
  function wireHeadView() {
    const svg = $('lines');
    svg.addEventListener('mousemove', (ev) => {
      const t = tokenAt(ev);
      if (!same(t, state.hover)) { state.hover = t; render(); }
    });
    svg.addEventListener('mouseleave', () => { if (state.hover) { state.hover = null; render(); } });
    svg.addEventListener('click', (ev) => {
      const t = tokenAt(ev);
      if (!t) return;
      state.pinned = same(t, state.pinned) ? null : t;
      render();
    });
  }

  // ---- matrix view (canvas) ------------------------------------------------------------
  let tiles = [];  // hit-testing: {x, y, head} of each drawn matrix, and the cell size
  let cellSize = 10;

  function renderMatrix() {
    const m = map(), canvas = $('matrix'), heads = shownHeads();
    const Tq = m.query_tokens.length, Tk = m.key_tokens.length, n = Math.max(Tq, Tk);
    const many = heads.length > 1;
    const cell = cellSize = Math.max(many ? 3 : 6, Math.min(many ? 20 : 36, Math.floor((many ? 200 : 440) / n)));
    const font = '12px system-ui, sans-serif';
    const qw = Math.max(...m.query_tokens.map((t) => textWidth(label(t), font))) + 10;
    const kh = Math.max(...m.key_tokens.map((t) => textWidth(label(t), font))) + 10;
    const stride = Math.max(1, Math.ceil(13 / cell));
    const cols = Math.ceil(Math.sqrt(heads.length)), rows = Math.ceil(heads.length / cols);  // near square
    const tileW = qw + Tk * cell + 20, tileH = 20 + Tq * cell + kh + 12;
    const width = cols * tileW + 10, height = rows * tileH + 4;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = '#fff';
    g.fillRect(0, 0, width, height);
    tiles = [];
    const f = focus();
    let top = 1;  // the weight drawn at full colour
    if (state.stretch) {
      top = 0;
      for (const h of heads)
        for (let q = 0; q < Tq; ++q)
          for (let k = 0; k < Tk; ++k) if (!masked(m, q, k)) top = Math.max(top, weight(h, q, k));
      top = top || 1;
    }
    heads.forEach((h, t) => {
      const x0 = (t % cols) * tileW + qw, y0 = Math.floor(t / cols) * tileH + 20;
      tiles.push({ x: x0, y: y0, head: h });
      g.font = '600 12px system-ui, sans-serif';
      g.fillStyle = many ? headColour(h) : '#1d1d1f';
      g.textAlign = 'left';
      g.textBaseline = 'alphabetic';
      g.fillText(h === 'mean' ? 'mean of ' + nHeads() + ' heads' : 'head ' + h, x0, y0 - 7);
      for (let q = 0; q < Tq; ++q)
        for (let k = 0; k < Tk; ++k) {
          const w = weight(h, q, k);
          if (masked(m, q, k)) {
            g.fillStyle = MASKED;
          } else if (many) {  // white to the head's colour
            g.fillStyle = '#fff';
            g.fillRect(x0 + k * cell, y0 + q * cell, cell, cell);
            g.globalAlpha = Math.min(1, w / top);
            g.fillStyle = headColour(h);
          } else {
            g.fillStyle = viridis(w / top);
          }
          g.fillRect(x0 + k * cell, y0 + q * cell, cell, cell);
          g.globalAlpha = 1;
          if (!many && cell >= 28 && !masked(m, q, k) && w >= 0.005) {
            g.font = '10px system-ui, sans-serif';
            g.textAlign = 'center';
            g.textBaseline = 'middle';
            g.fillStyle = w / top > 0.6 ? '#000' : '#fff';
            g.fillText(w >= 0.995 ? '1' : w.toFixed(2).slice(1), x0 + (k + 0.5) * cell, y0 + (q + 0.5) * cell);
          }
        }
      g.strokeStyle = '#999';
      g.lineWidth = 1;
      g.strokeRect(x0 - 0.5, y0 - 0.5, Tk * cell + 1, Tq * cell + 1);
      g.font = font;
      g.fillStyle = '#1d1d1f';
      g.textBaseline = 'middle';
      g.textAlign = 'right';
      // Every stride-th label when cells are thin, and always the focused token's, in bold.
      for (let q = 0; q < Tq; ++q) {
        const on = f && f.side === 'q' && f.index === q;
        if (q % stride !== 0 && !on) continue;
        g.font = on ? '700 ' + font : font;
        g.fillText(label(m.query_tokens[q]), x0 - 5, y0 + (q + 0.5) * cell);
      }
      for (let k = 0; k < Tk; ++k) {  // rotated to read upwards, ending under the matrix
        const on = f && f.side === 'k' && f.index === k;
        if (k % stride !== 0 && !on) continue;
        g.save();
        g.translate(x0 + (k + 0.5) * cell, y0 + Tq * cell + 5);
        g.rotate(-Math.PI / 2);
        g.font = on ? '700 ' + font : font;
        g.fillText(label(m.key_tokens[k]), 0, 0);
        g.restore();
      }
      if (f) {  // outline the focused row (a query) or column (a key)
        g.strokeStyle = FOCUS;
        g.lineWidth = 2.5;
        if (f.side === 'q') g.strokeRect(x0 - 1, y0 + f.index * cell - 1, Tk * cell + 2, cell + 2);
        else g.strokeRect(x0 + f.index * cell - 1, y0 - 1, cell + 2, Tq * cell + 2);
      }
    });
  }

  function cellAt(ev) {
    const m = map(), r = $('matrix').getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    for (const t of tiles) {
      const k = Math.floor((x - t.x) / cellSize), q = Math.floor((y - t.y) / cellSize);
      if (k >= 0 && q >= 0 && k < m.key_tokens.length && q < m.query_tokens.length)
        return { head: t.head, q: q, k: k, x: x, y: y };
    }
    return null;
  }
  function wireMatrix() {
    const canvas = $('matrix'), tip = $('tooltip');
    canvas.addEventListener('mousemove', (ev) => {
      const c = cellAt(ev), m = map();
      if (!c) { tip.style.display = 'none'; return; }
      const who = c.head === 'mean' ? 'mean of ' + nHeads() + ' heads' : 'head ' + c.head;
      tip.textContent = masked(m, c.q, c.k)
        ? who + ': "' + label(m.query_tokens[c.q]) + '" cannot see "' + label(m.key_tokens[c.k]) + '" (causal mask)'
        : who + ': "' + label(m.query_tokens[c.q]) + '" \u2192 "' + label(m.key_tokens[c.k]) + '" = ' +
          weight(c.head, c.q, c.k).toFixed(3);
      tip.style.left = (c.x + 14) + 'px';
      tip.style.top = (c.y + 10) + 'px';
      tip.style.display = 'block';
    });
    canvas.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
    canvas.addEventListener('click', (ev) => {
      const c = cellAt(ev);
      if (!c) return;
      const p = state.pinned;
      state.pinned = p && p.side === 'q' && p.index === c.q ? null : { side: 'q', index: c.q };
      render();
    });
  }

  // ---- details -------------------------------------------------------------------------
  function renderDetails() {
    const d = $('details'), f = focus(), m = map();
    d.innerHTML = '';
    if (!f) { d.textContent = 'No token selected.'; return; }
    const heads = shownHeads(), tokens = f.side === 'q' ? m.key_tokens : m.query_tokens;
    const rows = tokens.map((t, j) => {
      let w = 0;
      for (const h of heads) w += f.side === 'q' ? weight(h, f.index, j) : weight(h, j, f.index);
      return { t: t, w: w / heads.length };
    }).filter((r) => r.w >= 0.005).sort((a, b) => b.w - a.w).slice(0, 8);
    const who = f.side === 'q' ? m.query_tokens[f.index] : m.key_tokens[f.index];
    const b = document.createElement('b');
    b.textContent = label(who);
    d.appendChild(b);
    d.appendChild(document.createTextNode(f.side === 'q' ? ' attends to: ' : ' is attended by: '));
    rows.forEach((r, i) => {
      d.appendChild(document.createTextNode((i ? ', ' : '') + label(r.t) + ' '));
      const s = document.createElement('span');
      s.className = 'w';
      s.textContent = r.w.toFixed(2);
      d.appendChild(s);
    });
    d.appendChild(document.createTextNode(heads.length > 1 ? ' (averaged over the shown heads)' : ''));
  }

  function render() {
    const f = focus();
    document.body.dataset.kind = map().kind;
    document.body.dataset.layer = String(state.layer);
    document.body.dataset.head = String(state.head);
    document.body.dataset.focus = f ? f.side + f.index : '';
    $('prev-layer').disabled = state.layer === 0;
    $('next-layer').disabled = state.layer === map().n_layers - 1;
    for (const chip of $('chips').children) chip.classList.toggle('on', String(state.head) === chip.dataset.head);
    renderHeadView();
    renderMatrix();
    renderDetails();
  }

  $('title').textContent = 'Attention \u2014 ' + DATA.title;
  buildKinds();
  buildLayers();
  buildHeads();
  wireControls();
  wireHeadView();
  wireMatrix();
  render();
  window.attendViz = { state: state, render: render, data: DATA,
                       layout: () => ({ tiles: tiles, cell: cellSize }) };  // for tests and tools
})();
