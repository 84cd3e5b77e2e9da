import mammoth from 'mammoth';
import { type DocumentText, UnreadableFile } from './formats.js';
import { htmlToMarkdown } from './markdown.js';

/**
 * A Word document as Markdown: mammoth maps its paragraph styles to HTML (Heading 1 to h1 and so on,
 * tables, lists), and the shared converter makes that Markdown. Images are left out: vmem pages text.
 */
export async function docxText(bytes: Buffer, path: string): Promise<DocumentText> {
  let html: string;
  try {
    ({ value: html } = await mammoth.convertToHtml(
      { buffer: bytes },
      { convertImage: mammoth.images.imgElement(async () => ({ src: '' })) },
    ));
  } catch (err) {
    throw new UnreadableFile(
      path,
      `is not a readable Word document (${(err as Error)?.message ?? String(err)})`,
      'check that it opens in Word, or save it again as .docx',
    );
  }
  return { text: htmlToMarkdown(html) };
}
