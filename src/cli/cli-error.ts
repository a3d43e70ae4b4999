/** A command's user-facing failure: printed as `gatehouse: <message>`, exit code 1, no stack. */
export class CliError extends Error {}
