"""The step-through's drawing of the rest of a block after ΔE (issue #26): the residual add,
the normalisation with its statistics, the MLP (up projection, activation, the ten most active
neurons, down projection), the second residual add, the next block's input, and after the last
block the final norm and the unembedding. Every number comes from
:class:`~model.analysis.block_steps.BlockSteps`, computed on the model thread; what a stage
painted is kept in ``shown`` (name → value) so a test can compare it with the model."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, QRectF, Qt
from PySide6.QtGui import QPainter

from explorer import theme
from explorer.views.block_text import block_norm
from explorer.views.paint import Colours, draw_heat, fmt, font, line_height, symmetric, text_width
from model.analysis.block_steps import BlockSteps, NormStep


def _norm(v: np.ndarray) -> float:
    return float(np.linalg.norm(v))


class BlockStages:
    """Mixed into :class:`~explorer.views.stage_canvas.StageCanvas`: one ``_block_<stage>``
    method per block stage, drawing into ``body`` below the formula."""

    shown: dict

    # ------------------------------------------------------------------ pieces
    def _strip_rows(self, p: QPainter, c: Colours, body: QRectF, rows: list, room: float = 0.62) -> float:
        """Captioned heat strips, one per (caption, vector, limit, outlined[, optional]) in
        ``rows``, in the top ``room`` of ``body``; returns the y below the last. Short of room
        the optional rows go first, then the first rows (the last is the stage's result)."""
        head_h = line_height(font(0.9)) + 2
        least = line_height(font(0.85)) * 0.7
        avail = body.height() * room
        rows = list(rows)
        while len(rows) > 1 and len(rows) * (head_h + least) > avail:
            optional = [n for n, r in enumerate(rows) if len(r) > 4 and r[4]]
            rows.pop(optional[0] if optional else 0)
        row = max(least, min(line_height(font(1.0)) * 1.6, (avail - len(rows) * head_h) / max(len(rows), 1)))
        y = body.top()
        for caption, vec, lim, accent, *_ in rows:
            self._header(p, c, body.left(), y, body.width(), caption)
            y += head_h
            lim = lim if lim > 0 else 1.0
            draw_heat(p, QRectF(body.left(), y, body.width(), row - 6), np.asarray(vec, dtype=np.float64)[None, :],
                      theme.SCORE_CMAP, -lim, lim, number_font=font(0.85), outline=c.accent if accent else c.faint)
            y += row
        return y

    def _number_lines(self, p: QPainter, c: Colours, x: float, y: float, w: float, bottom: float,
                      parts: list[str], scale: float = 1.1) -> float:
        """``parts`` joined on as few lines as fit ``w``, shrinking until they fit above ``bottom``."""
        f = font(scale, bold=True)
        while True:
            lines = [parts[0]]
            for part in parts[1:]:
                joined = f"{lines[-1]}    {part}"
                if text_width(f, joined) <= w:
                    lines[-1] = joined
                else:
                    lines.append(part)
            fits = max(text_width(f, t) for t in lines) <= w and y + len(lines) * line_height(f) * 1.15 <= bottom
            if fits or f.pointSizeF() <= 7:
                break
            f.setPointSizeF(f.pointSizeF() * 0.9)
        p.setFont(f)
        p.setPen(c.fg)
        for line in lines:
            if y + line_height(f) > bottom + 1:
                break
            p.drawText(QRectF(x, y, w, line_height(f) * 1.15), Qt.AlignLeft | Qt.AlignVCenter,
                       p.fontMetrics().elidedText(line, Qt.ElideRight, int(w)))
            y += line_height(f) * 1.15
        return y

    def _check_line(self, p: QPainter, c: Colours, body: QRectF, bs: BlockSteps) -> QRectF:
        """The foot: how closely the recomputed vectors match the forward pass; returns the
        body above it."""
        f = font(0.8)
        h = line_height(f) * 1.2
        text = QCoreApplication.translate("StepThrough", "recomputed from the trace and the weights: within {err} of the forward pass").format(
            err=f"{bs.worst_check:.0e}")
        p.setFont(f)
        p.setPen(c.dim)
        rect = QRectF(body.left(), body.bottom() - h, body.width(), h)
        p.drawText(rect, Qt.AlignLeft | Qt.AlignVCenter, p.fontMetrics().elidedText(text, Qt.ElideRight, int(rect.width())))
        self.shown["worst_check"] = bs.worst_check
        return QRectF(body.left(), body.top(), body.width(), body.height() - h - 4)

    def _sum_stage(self, p, c, body, bs: BlockSteps, parts) -> None:
        """Three strips a + b = c, the first and last on one colour scale, and their norms."""
        body = self._check_line(p, c, body, bs)
        (na, a), (nb, b), (nc, s) = parts
        lim = symmetric(a, s)
        y = self._strip_rows(p, c, body, [(na, a, lim, False, True), (nb, b, symmetric(b), True), (nc, s, lim, False)])
        norms = [_norm(a), _norm(b), _norm(s)]
        self.shown.update(norm_in=norms[0], norm_added=norms[1], norm_out=norms[2])
        self._number_lines(p, c, body.left(), y + 6, body.width(), body.bottom(),
                           [f"‖{k}‖ = {fmt(v)}" for k, v in zip(("x", "+", "="), norms, strict=True)])

    # ------------------------------------------------------------------ stages
    def _block_attn_add(self, p, c, body, bs: BlockSteps) -> None:
        heads = QCoreApplication.translate("StepThrough", "Σ_h ΔE_h + b_O   (the {n} heads' outputs and the bias; own colour scale)").format(n=bs.heads.shape[0])
        self._sum_stage(p, c, body, bs, [(QCoreApplication.translate("StepThrough", "x   (entering layer {layer})").format(layer=bs.layer), bs.resid_pre),
                                         (heads, bs.attn_out),
                                         (QCoreApplication.translate("StepThrough", "x + attention   (same scale as x)"), bs.attn_sum)])

    def _block_mlp_add(self, p, c, body, bs: BlockSteps) -> None:
        self._sum_stage(p, c, body, bs, [("x_mid", bs.resid_mid),
                                         (QCoreApplication.translate("StepThrough", "MLP(x)   (own colour scale)"), bs.mlp_out),
                                         (QCoreApplication.translate("StepThrough", "x_mid + MLP(x)   (same scale as x_mid)"), bs.mlp_sum)])

    def _norm_body(self, p, c, body, bs: BlockSteps, n: NormStep) -> None:
        body = self._check_line(p, c, body, bs)
        rows = [("x", n.x, symmetric(n.x), False)]
        if n.kind == "LayerNorm":
            rows.append(("(x − μ) / √(σ² + ε)", n.normalised, symmetric(n.normalised), False, True))
        elif n.kind == "RMSNorm":
            rows.append(("x / rms", n.normalised, symmetric(n.normalised), False, True))
        if n.gamma is not None:
            rows.append((QCoreApplication.translate("StepThrough", "γ   (scale, learned)"), n.gamma, symmetric(n.gamma), False, True))
        if n.beta is not None:
            rows.append((QCoreApplication.translate("StepThrough", "β   (shift, learned)"), n.beta, symmetric(n.beta), False, True))
        rows.append((QCoreApplication.translate("StepThrough", "out   (what is read next)"), n.out, symmetric(n.out), True))
        y = self._strip_rows(p, c, body, rows, room=0.72)
        if n.kind == "LayerNorm":
            parts = [f"μ = {fmt(n.mean)}", f"σ² = {fmt(n.variance)}", f"ε = {n.eps:g}", f"√(σ² + ε) = {fmt(n.scale)}"]
            self.shown.update(mean=n.mean, variance=n.variance, scale=n.scale)
        elif n.kind == "RMSNorm":
            parts = [f"mean(x²) = {fmt(n.variance)}", f"ε = {n.eps:g}", f"rms = {fmt(n.scale)}"]
            self.shown.update(variance=n.variance, scale=n.scale)
        else:
            parts = [QCoreApplication.translate("StepThrough", "no normalisation: out = x")]
        parts.append(f"‖out‖ = {fmt(_norm(n.out))}")
        self.shown["norm_out"] = _norm(n.out)
        self._number_lines(p, c, body.left(), y + 6, body.width(), body.bottom(), parts)

    def _block_attn_norm(self, p, c, body, bs) -> None:
        self._norm_body(p, c, body, bs, bs.norm_attn)

    def _block_mlp_norm(self, p, c, body, bs) -> None:
        self._norm_body(p, c, body, bs, block_norm(bs, "mlp_norm"))

    def _block_final_norm(self, p, c, body, bs) -> None:
        self._norm_body(p, c, body, bs, bs.output.norm)

    def _block_mlp_up(self, p, c, body, bs: BlockSteps) -> None:
        body = self._check_line(p, c, body, bs)
        m, d = bs.mlp.width, bs.mlp.x.shape[0]
        rows = [(QCoreApplication.translate("StepThrough", "x   (the MLP's input, {d} numbers)").format(d=d), bs.mlp.x, symmetric(bs.mlp.x), False)]
        if bs.mlp.gated:
            rows.append((QCoreApplication.translate("StepThrough", "g = x W_gate   ({m} numbers)").format(m=m), bs.mlp.gate, symmetric(bs.mlp.gate), False))
        rows.append((QCoreApplication.translate("StepThrough", "u = x W_up   ({m} numbers)").format(m=m), bs.mlp.up, symmetric(bs.mlp.up), True))
        y = self._strip_rows(p, c, body, rows)
        self.shown.update(up_max=float(bs.mlp.up.max()), up_min=float(bs.mlp.up.min()))
        self._number_lines(p, c, body.left(), y + 6, body.width(), body.bottom(),
                           [f"W_up: {d} × {m}", f"max u = {fmt(float(bs.mlp.up.max()))}",
                            f"min u = {fmt(float(bs.mlp.up.min()))}"])

    def _block_mlp_activation(self, p, c, body, bs: BlockSteps) -> None:
        body = self._check_line(p, c, body, bs)
        mlp = bs.mlp
        pre = mlp.gate if mlp.gated else mlp.up
        lim = symmetric(pre, mlp.activated)
        rows = [(("g" if mlp.gated else "u"), pre, lim, False),
                (f"{mlp.activation.split(' ')[0]}({'g' if mlp.gated else 'u'})   " + QCoreApplication.translate("StepThrough", "(same scale)"),
                 mlp.activated, lim, False)]
        if mlp.gated:
            rows.append(("h = act(g) ⊙ u", mlp.hidden, symmetric(mlp.hidden), True))
        else:
            rows[-1] = (rows[-1][0], rows[-1][1], lim, True)
        y = self._strip_rows(p, c, body, rows)
        h = np.abs(mlp.hidden)
        big = int((h > 0.1 * h.max()).sum()) if h.max() > 0 else 0
        self.shown.update(active=big, hidden_max=float(h.max()))
        self._number_lines(p, c, body.left(), y + 6, body.width(), body.bottom(),
                           [QCoreApplication.translate("StepThrough", "{n} of {m} neurons above a tenth of the largest |h_n| = {top}").format(
                               n=big, m=mlp.width, top=fmt(float(h.max())))])

    def _block_mlp_neurons(self, p, c, body, bs: BlockSteps) -> None:
        """A table: neuron, its pre-activation(s), h_n, ‖h_n W_down[n]‖, effect on the logit (bar)."""
        body = self._check_line(p, c, body, bs)
        mlp = bs.mlp
        cols = [(QCoreApplication.translate("StepThrough", "neuron"), [f"#{int(n)}" for n in mlp.top_neurons])]
        if mlp.gated:
            cols.append(("g_n", [fmt(float(v)) for v in mlp.gate[mlp.top_neurons]]))
        cols.append(("u_n", [fmt(float(v)) for v in mlp.up[mlp.top_neurons]]))
        cols.append(("h_n", [fmt(float(v)) for v in mlp.top_hidden]))
        cols.append((QCoreApplication.translate("StepThrough", "‖write‖"), [fmt(float(v)) for v in mlp.top_write_norms]))
        effect = mlp.top_logit
        if effect is not None:
            cols.append(("Δ logit", [fmt(float(v)) for v in effect]))
        self.shown.update(neurons=[int(n) for n in mlp.top_neurons], neuron_h=[float(v) for v in mlp.top_hidden])
        if effect is not None:
            self.shown["neuron_logit"] = [float(v) for v in effect]
        scale = 1.0
        while True:  # the columns fit the canvas: the pre-activations go first, then the text shrinks
            f_head, f = font(0.9, bold=True), font(scale, mono=True)
            widths = [max(text_width(f_head, cap), *(text_width(f, t) for t in texts)) + 18 for cap, texts in cols]
            if sum(widths) + 60 <= body.width() or scale < 0.6:
                break
            optional = [n for n, (cap, _) in enumerate(cols) if cap in ("g_n", "u_n", QCoreApplication.translate("StepThrough", "‖write‖"))]
            if optional:
                cols.pop(optional[0])
            else:
                scale *= 0.9
        k = len(mlp.top_neurons)
        head_h = line_height(f_head) + 4
        rh = max(line_height(f) * 0.9, min(line_height(f) * 1.5, (body.height() - head_h) / max(k, 1)))
        x = body.left()
        for (caption, texts), w in zip(cols, widths, strict=True):
            self._header(p, c, x, body.top(), w - 8, caption, Qt.AlignRight)
            p.setFont(f)
            p.setPen(c.fg)
            for r, t in enumerate(texts):
                top = body.top() + head_h + r * rh
                if top + rh > body.bottom() + 1:
                    break
                p.drawText(QRectF(x, top, w - 8, rh), Qt.AlignRight | Qt.AlignVCenter, t)
            x += w
        if effect is None or body.right() - x < 60:
            return
        bar = QRectF(x + 10, body.top() + head_h, body.right() - x - 10, k * rh)
        lim = max(float(np.abs(effect).max()), 1e-12)
        self._zero_line(p, c, QRectF(bar.left(), bar.top(), bar.width(), min(bar.height(), body.bottom() - bar.top())), 0.5)
        for r, v in enumerate(effect):
            top = bar.top() + r * rh
            if top + rh > body.bottom() + 1:
                break
            colour = theme.SCORE_CMAP.map(0.5 + 0.5 * float(np.clip(v / lim, -1, 1)), mode="qcolor")
            self._bar(p, QRectF(bar.left(), top, bar.width(), rh), float(v), lim, colour, 0.5)

    def _block_mlp_down(self, p, c, body, bs: BlockSteps) -> None:
        body = self._check_line(p, c, body, bs)
        mlp = bs.mlp
        d = mlp.out.shape[0]
        top_sum = mlp.top_write.sum(0)
        lim = symmetric(mlp.out, top_sum)
        rows = [(QCoreApplication.translate("StepThrough", "h   ({m} numbers)").format(m=mlp.width), mlp.hidden, symmetric(mlp.hidden), False),
                (QCoreApplication.translate("StepThrough", "the ten neurons' writes alone"), top_sum, lim, False),
                (QCoreApplication.translate("StepThrough", "MLP(x) = h W_down   ({d} numbers, same scale)").format(d=d), mlp.out, lim, True)]
        y = self._strip_rows(p, c, body, rows)
        self.shown.update(norm_mlp=_norm(mlp.out), norm_top=_norm(top_sum))
        self._number_lines(p, c, body.left(), y + 6, body.width(), body.bottom(),
                           [f"W_down: {mlp.width} × {d}", f"‖MLP(x)‖ = {fmt(_norm(mlp.out))}",
                            QCoreApplication.translate("StepThrough", "‖ten neurons' writes‖ = {v}").format(v=fmt(_norm(top_sum)))])

    def _block_next_block(self, p, c, body, bs: BlockSteps) -> None:
        body = self._check_line(p, c, body, bs)
        y = self._strip_rows(p, c, body, [(QCoreApplication.translate("StepThrough", "x entering layer {next}").format(next=bs.next_layer), bs.resid_post,
                                           symmetric(bs.resid_post), True),
                                          (QCoreApplication.translate("StepThrough", "x entering layer {layer}   (same scale: what this block changed)").format(
                                              layer=bs.layer), bs.resid_pre, symmetric(bs.resid_post), False)],
                             room=0.5)
        self.shown.update(norm_next=_norm(bs.resid_post), norm_before=_norm(bs.resid_pre))
        self._number_lines(p, c, body.left(), y + 6, body.width(), body.bottom(),
                           [f"‖x^({bs.next_layer})‖ = {fmt(_norm(bs.resid_post))}",
                            f"‖x^({bs.layer})‖ = {fmt(_norm(bs.resid_pre))}"])

    def _block_unembed(self, p, c, body, bs: BlockSteps) -> None:
        body = self._check_line(p, c, body, bs)
        out = bs.output
        word = self._word(out.target)
        self.shown.update(logit=out.logit, target=out.target, top_ids=[int(t) for t in out.top_ids],
                          top_values=[float(v) for v in out.top_values])
        rows = [("h", out.norm.out, symmetric(out.norm.out), False),
                (QCoreApplication.translate("StepThrough", "W_U[“{token}”]   (its unembedding direction)").format(token=word), out.direction,
                 symmetric(out.direction), True)]
        y = self._strip_rows(p, c, body, rows, room=0.3)
        parts = [f"h · W_U[t] = {fmt(out.logit - out.bias)}"]
        if out.bias:
            parts.append(f"b = {fmt(out.bias)}")
        name = QCoreApplication.translate("StepThrough", "logit") if out.kind == "logit" else QCoreApplication.translate("StepThrough", "score")
        parts.append(f"{name}(“{word}”) = {fmt(out.logit)}")
        y = self._number_lines(p, c, body.left(), y + 4, body.width(), body.bottom(), parts)
        if out.kind != "logit" and y + line_height(font(0.8)) <= body.bottom():
            note = QCoreApplication.translate("StepThrough", "(a tied adaptive softmax: this linear score is what its softmaxes start from)")
            p.setFont(font(0.8))
            p.setPen(c.dim)
            p.drawText(QRectF(body.left(), y, body.width(), line_height(font(0.8))), Qt.AlignLeft | Qt.AlignVCenter,
                       p.fontMetrics().elidedText(note, Qt.ElideRight, int(body.width())))
            y += line_height(font(0.8)) * 1.2
        # the likeliest next tokens, as the Next-token view shows them
        value = QCoreApplication.translate("StepThrough", "logit") if out.kind == "logit" else QCoreApplication.translate("StepThrough", "log p")
        f, f_head = font(1.0), font(0.9, bold=True)
        head_h = line_height(f_head) + 4
        if y + head_h + line_height(f) * 0.85 > body.bottom():
            return  # no room for even one row: the formula has the target's score
        self._header(p, c, body.left(), y, body.width(), QCoreApplication.translate("StepThrough", "the likeliest next tokens: {value}, probability").format(value=value))
        y += head_h
        k = len(out.top_ids)
        rh = min(line_height(f) * 1.3, (body.bottom() - y) / max(k, 1))
        if rh < line_height(f) * 0.85:
            k = max(0, int((body.bottom() - y) / (line_height(f) * 0.85)))
            rh = line_height(f) * 0.85
        tw = min(body.width() * 0.3, 220.0)
        num_w = text_width(font(1.0, mono=True), "−00.0000") + 8
        bar_x = body.left() + tw + 2 * num_w + 10
        for r in range(k):
            tid, v, prob = int(out.top_ids[r]), float(out.top_values[r]), float(out.top_probs[r])
            top = y + r * rh
            is_target = tid == out.target
            p.setFont(font(1.0, bold=is_target))
            p.setPen(c.accent if is_target else c.fg)
            p.drawText(QRectF(body.left(), top, tw - 8, rh), Qt.AlignRight | Qt.AlignVCenter,
                       p.fontMetrics().elidedText(self._word(tid), Qt.ElideRight, int(tw - 8)))
            p.setFont(font(1.0, mono=True))
            p.drawText(QRectF(body.left() + tw, top, num_w, rh), Qt.AlignRight | Qt.AlignVCenter, fmt(v))
            p.drawText(QRectF(body.left() + tw + num_w, top, num_w, rh), Qt.AlignRight | Qt.AlignVCenter, f"{prob:.3f}")
            if body.right() - bar_x > 40:
                self._bar(p, QRectF(bar_x, top, body.right() - bar_x, rh), prob, 1.0,
                          c.accent if is_target else c.dim, 0.0)

    def _word(self, token_id: int) -> str:
        from explorer.views.stage_text import _label

        vocab = self.vocabulary
        return _label(vocab[token_id]) if 0 <= token_id < len(vocab) else f"<{token_id}>"
