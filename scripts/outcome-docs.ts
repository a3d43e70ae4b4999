/** docs/outcomes.md from the catalogue (src/shared/outcome.ts): the codes users see in labels, logs and traces. */
import { OUTCOME_CODES, OUTCOMES } from '../src/shared/outcome.js';

export function outcomesDocument(): string {
  const rows = OUTCOME_CODES.map((code) => {
    const entry = OUTCOMES[code];
    return `| \`${code}\` | ${entry.meaning} | ${entry.isRejection ? 'yes' : 'no'} | ${entry.win32Status} |`;
  });
  return `# Outcome codes

<!-- Generated from src/shared/outcome.ts by \`npm run docs:config\`; do not edit by hand. -->

Every request ends with one code from this list. The code is decided where the outcome is decided (the
door's verdict, admission, the exchange with the farm server) and carried by the request record, so:

- \`gatehouse_rejections_total{reason}\` is the code, for answers Gatehouse gave itself with an error
  status (the column "rejection");
- the JSON access log has it as \`outcome\`; the W3C log's \`sc-win32-status\` is derived from it (ARR's
  WinHTTP error numbers, 64 when the client went away);
- a trace has it as \`outcome\` and on its \`MODULE_SET_RESPONSE_ERROR_STATUS\` and \`GENERAL_REQUEST_END\`
  events;
- the event log's line for a refused or failed request reads \`STATUS.SUB outcome=CODE client …\`.

The text after it in a log line is for people and may be reworded; the codes are stable.

| Code | Meaning | Rejection | sc-win32-status |
| --- | --- | --- | --- |
${rows.join('\n')}
`;
}
