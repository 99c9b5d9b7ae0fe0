"""The step-through's ΔE stage: z, ΔE = z W_O, the residual vector before and after, and the
tokens the head's ΔE pushes up most through the unembedding (mixed into
:class:`~explorer.views.stage_canvas.StageCanvas`; the numbers come from HeadSteps)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt

from explorer import theme
from explorer.views.paint import draw_heat, fmt, font, line_height, symmetric, text_width
from explorer.views.stage_text import _label


class DeltaStage:
    """``_stage_output``: the last of one head's stages."""

    def _stage_output(self, p, c, body, s) -> None:
        dh, d = s.w_o.shape
        left_w = min(body.width() * 0.26, 320.0)
        self._matrix(p, c, QRectF(body.left(), body.top(), left_w, min(body.height() * 0.55, 320.0)), s.w_o,
                     f"W_O   ({dh} × {d})")
        x = body.left() + left_w + 24
        w = body.right() - x
        f = font(1.0, bold=True)
        head_h = line_height(font(0.9)) + 2
        # four captioned strips and the norms in the top of the body, the tokens below
        row = max(line_height(f) * 0.8, min(line_height(f) * 1.7, (body.height() * 0.62 - 4 * head_h) / 4))
        lim = symmetric(s.residual, s.residual + s.delta)
        y = body.top()
        strips = [
            ("z", s.z, symmetric(s.z), False),
            (QCoreApplication.translate("StepThrough", "ΔE = z W_O   (its own colour scale)"), s.delta, symmetric(s.delta), True),
            (QCoreApplication.translate("StepThrough", "E   (the residual vector of “{token}”)").format(token=_label(s.tokens[s.query])), s.residual, lim, False),
            (QCoreApplication.translate("StepThrough", "E + ΔE   (same scale as E)"), s.residual + s.delta, lim, False),
        ]
        f_num = font(1.2, bold=True)
        if 4 * (head_h + row) + 3 * line_height(f_num) * 1.15 > body.height():
            strips = strips[:2]  # short of room: z and ΔE, and the numbers that compare ΔE with E
        for caption, vec, l_, accent in strips:
            self._header(p, c, x, y, w, caption)
            y += head_h
            draw_heat(p, QRectF(x, y, w, row - 6), vec[None, :], theme.SCORE_CMAP, -l_, l_,
                      number_font=font(0.85), outline=c.accent if accent else c.faint)
            y += row
        p.setFont(f_num)
        p.setPen(c.fg)
        parts = [f"‖ΔE‖ = {fmt(s.delta_norm)}", f"‖E‖ = {fmt(float(np.linalg.norm(s.residual)))}",
                 f"cos(ΔE, E) = {s.cosine:+.3f}".replace("-", "−")]
        while True:
            lines = [parts[0]]  # as many on a line as fit ("cos(ΔE, E)" was cut at the edge)
            for part in parts[1:]:
                joined = f"{lines[-1]}    {part}"
                if text_width(f_num, joined) <= w:
                    lines[-1] = joined
                else:
                    lines.append(part)
            fits = max(text_width(f_num, t) for t in lines) <= w and \
                y + len(lines) * line_height(f_num) * 1.15 <= body.bottom()
            if fits or f_num.pointSizeF() <= 7:
                break
            f_num.setPointSizeF(f_num.pointSizeF() * 0.9)
        p.setFont(f_num)
        for line in lines:
            p.drawText(QPointF(x, y + line_height(f_num) * 0.9), line)
            y += line_height(f_num) * 1.15
        y += line_height(f_num) * 0.3
        # the tokens ΔE pushes up, directly through the unembedding
        tokens_top = max(y, body.top() + min(body.height() * 0.55, 320.0) + 16)
        area = QRectF(body.left(), tokens_top, body.width(), body.bottom() - tokens_top)
        if len(s.top_token_ids) == 0:
            p.setFont(font(1.0))
            p.setPen(c.dim)
            p.drawText(area, Qt.AlignLeft | Qt.AlignTop, QCoreApplication.translate("StepThrough", "No language-model head: ΔE raises no token's logit here."))
            return
        note = f" ({self.unembed_note})" if self.unembed_note else ""
        self._header(p, c, area.left(), area.top(), area.width(),
                     QCoreApplication.translate("StepThrough", "ΔE · u_t: the tokens this head pushes up most{note}").format(note=note))
        f_tok = font(1.0)
        top = area.top() + line_height(font(0.9)) + 6
        # the most pushed-up tokens that fit, in one or two columns, each row a line high
        rows_fit = max(0, int((area.bottom() - top) / (line_height(f_tok) * 1.1)))
        cols = 2 if rows_fit * 1 < len(s.top_token_ids) and area.width() > 520 else 1
        n = min(len(s.top_token_ids), rows_fit * cols)
        per_col = int(np.ceil(n / cols)) if n else 1
        rh = min(line_height(f_tok) * 1.3, (area.bottom() - top) / max(per_col, 1))
        col_w = area.width() / cols
        gmax = float(np.abs(s.top_token_gains).max()) or 1.0
        num_w = text_width(font(1.0, mono=True), "−0.0000") + 8
        for n_, (tid, gain) in enumerate(zip(s.top_token_ids[:n], s.top_token_gains[:n], strict=True)):
            cx = area.left() + (n_ // per_col) * col_w
            ry = top + (n_ % per_col) * rh
            if ry + rh > area.bottom() + 1:
                continue
            word = _label(self.vocabulary[tid]) if tid < len(self.vocabulary) else f"<{tid}>"
            p.setFont(f_tok)
            p.setPen(c.fg)
            tw = col_w * 0.3
            p.drawText(QRectF(cx, ry, tw - 8, rh), Qt.AlignRight | Qt.AlignVCenter,
                       p.fontMetrics().elidedText(word, Qt.ElideRight, int(max(tw - 8, 1))))
            p.setFont(font(1.0, mono=True))
            p.drawText(QRectF(cx + tw, ry, num_w, rh), Qt.AlignRight | Qt.AlignVCenter, fmt(float(gain)))
            self._bar(p, QRectF(cx + tw + num_w + 10, ry, col_w - tw - num_w - 30, rh), float(gain), gmax, c.accent, 0.0)
