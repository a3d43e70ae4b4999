/** A kept version of the config file, as the admin API lists it (GET /config/history) and the console reads it. */
export interface ConfigVersion {
  /** `20261205T130501123Z-ab12cd34ef56`: when it was replaced, and the start of its hash. */
  readonly id: string;
  /** When it was replaced (ISO 8601). */
  readonly time: string;
  readonly size: number;
  readonly etag: string;
  /** Who wrote this version through the API (absent when it was written by hand). */
  readonly writtenBy?: string;
  /** Who replaced it. */
  readonly replacedBy?: string;
}
