import { readFileSync } from 'node:fs';
import { dataPath } from './data.js';

export interface SquadQuestion {
  id: string;
  question: string;
  answers: string[];
  /** Character offset of the (first) answer span in the article document. */
  answerOffset: number;
}

export interface SquadArticle {
  title: string;
  /** The document as vmem ingests it: the title, then the paragraphs, separated by blank lines. */
  text: string;
  questions: SquadQuestion[];
}

interface RawSquad {
  data: {
    title: string;
    paragraphs: {
      context: string;
      qas: { id: string; question: string; answers: { text: string; answer_start: number }[] }[];
    }[];
  }[];
}

export function loadSquad(path = dataPath('squad/dev-v1.1.json')): SquadArticle[] {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as RawSquad;
  return raw.data.map((a) => {
    const title = a.title.replace(/_/g, ' ');
    let text = `${title}\n\n`;
    const questions: SquadQuestion[] = [];
    for (const p of a.paragraphs) {
      const offset = text.length;
      text += `${p.context}\n\n`;
      for (const qa of p.qas) {
        questions.push({
          id: qa.id,
          question: qa.question,
          answers: qa.answers.map((x) => x.text),
          answerOffset: offset + qa.answers[0]!.answer_start,
        });
      }
    }
    return { title, text, questions };
  });
}
