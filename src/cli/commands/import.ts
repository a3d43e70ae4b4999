/**
 * `gatehouse import iis applicationHost.config [--sslcert sslcert.txt] [--certificates DIR]
 * [--pfx-passphrase-file F] [--client-ca FILE] [-o gatehouse.yaml] [--force]`: an IIS/ARR configuration as a
 * gatehouse.yaml, with a report of what did not map exactly (src/import/iis/import.ts).
 */
import { Command } from 'commander';
import { importIis } from '../../import/iis/import.js';

interface IisOptions {
  sslcert?: string;
  certificates?: string;
  pfxPassphraseFile?: string;
  clientCa?: string;
  output: string;
  force?: boolean;
}

export function importCommand(run: (action: () => Promise<number>) => void): Command {
  const command = new Command('import').description('write a gatehouse.yaml from another server\'s configuration');
  command
    .command('iis')
    .description('import IIS/ARR applicationHost.config: sites, bindings, SSL settings, server farms, global rules, tracing and limits; prints a report of what did not map exactly (exit 0: all mapped and valid; 2: valid, with report lines or once the named certificate files exist; 1: unreadable input or invalid output)')
    .argument('<applicationHost.config>', 'the IIS configuration, copied from %windir%\\System32\\inetsrv\\config')
    .option('--sslcert <file>', 'the output of `netsh http show sslcert` on the IIS server (the certificates of https bindings)')
    .option('--certificates <dir>', 'folder of the exported certificates, <THUMBPRINT>.pfx')
    .option('--pfx-passphrase-file <file>', 'file holding the passphrase of those PFX files')
    .option('--client-ca <file>', 'PEM bundle of the CAs IIS trusts for client certificates')
    .option('-o, --output <file>', 'the config file to write', 'gatehouse.yaml')
    .option('--force', 'replace the output file if it exists')
    .action((input: string, options: IisOptions) =>
      run(() =>
        importIis(
          {
            input,
            output: options.output,
            force: options.force === true,
            ...(options.sslcert === undefined ? {} : { sslcert: options.sslcert }),
            ...(options.certificates === undefined ? {} : { certificates: options.certificates }),
            ...(options.pfxPassphraseFile === undefined ? {} : { pfxPassphraseFile: options.pfxPassphraseFile }),
            ...(options.clientCa === undefined ? {} : { clientCa: options.clientCa }),
          },
          { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) },
        ),
      ),
    );
  return command;
}
