import { chunkText } from '../src/core/chunker.ts';
import { tokenizer } from '../src/core/tokenizer.ts';
for (const name of ['o200k_base', 'cl100k_base'] as const) {
const enc = tokenizer(name);
const cases: Record<string,string> = {
  lines: Array.from({length: 40}, (_, i) => `Line number ${i} is here.`).join('\n'),
  emoji: '👨‍👩‍👧‍👦🎉🇫🇷'.repeat(200),
  cjk: '我们在这里测试中文文本的分割是否正确处理每一个字符'.repeat(40),
  combining: 'e\u0301a\u0308o\u0302'.repeat(300),
  nospace: 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(100),
  mixed: ('Hello 世界 🎉 naïve café. ' + '😀'.repeat(50) + '\n').repeat(20),
};
for (const [k, doc] of Object.entries(cases)) {
  const ch = chunkText(doc, 64, enc);
  let bad = 0, over = 0, lone = 0;
  for (const c of ch) { const n = enc.encode(c.text).length; if (n !== c.tokens) bad++; if (n > 64) over++;
    if (/[\uD800-\uDBFF]$/.test(c.text) || /^[\uDC00-\uDFFF]/.test(c.text) || c.text.includes('\uFFFD')) lone++; }
  console.log(name, k, ch.length, 'bad', bad, 'over', over, 'lone', lone, 'concat', ch.map(c=>c.text).join('') === doc, ch.slice(0,3).map(c=>c.tokens));
}
}
