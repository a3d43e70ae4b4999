/** What docs:config writes, shared with the drift test. */
import { configReferenceMarkdown } from '../src/config/reference.js';

export const START = '<!-- config-reference:start -->';
export const END = '<!-- config-reference:end -->';

export function configReferenceDocument(): string {
  return `# Config reference\n\n${configReferenceMarkdown()}`;
}

/** README with the section between the markers replaced by the generated reference. */
export function readmeWithReference(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${configReferenceMarkdown()}\n${readme.slice(end)}`;
}
