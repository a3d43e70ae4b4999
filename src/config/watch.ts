/**
 * Watches the config file and the files it names (certificates, keys, CAs, CRLs, secrets): a change to
 * any of them calls `onChange` once, after the writes settle. Folders are watched rather than files, so
 * an editor's or a tool's replace-by-rename (how certificates are usually rotated) is seen too.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

const SETTLE_MS = 300;

export interface ConfigWatcher {
  close(): void;
}

export function watchConfigFiles(files: readonly string[], onChange: () => void, onError: (message: string) => void): ConfigWatcher {
  const byFolder = new Map<string, Set<string>>();
  for (const file of files) byFolder.set(dirname(file), (byFolder.get(dirname(file)) ?? new Set()).add(basename(file)));
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const [folder, names] of byFolder) {
    try {
      const watcher = watch(folder, { persistent: false }, (_event, name) => {
        if (name !== null && !names.has(name.toString())) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(onChange, SETTLE_MS);
        timer.unref();
      });
      watcher.on('error', (error) => onError(`watching ${folder}: ${error.message}`));
      watchers.push(watcher);
    } catch (error) {
      onError(`cannot watch ${folder} for config changes: ${(error as Error).message} (SIGHUP still reloads)`);
    }
  }
  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
