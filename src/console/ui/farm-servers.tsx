/**
 * Server Farms → a farm → Servers: the farm's servers as the config declares them (address, weight,
 * enabled) with Add Server (POST /farms/{farm}/servers), Remove (DELETE …/servers/{address}), a server's
 * weight and enabled flag (PATCH …/servers/{address}), and Take Farm Offline / Bring Online
 * (PATCH /farms/{farm} { enabled }). Each edits the config file and reloads; administrators only.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Whoami } from './api';
import { describedBy, FarmFeature, Field, guarded, OtherProblems, useFarmSettings, type FarmSettings } from './farm-settings';
import { ConfirmRemove } from './forms';
import type { ServerView } from './types';

const serverPath = (address: string) => `/servers/${encodeURIComponent(address)}`;

function ServerRow(props: { readonly server: ServerView & { readonly loadBalanceWeightPercent?: number }; readonly settings: FarmSettings }) {
  const { server, settings } = props;
  const [weight, setWeight] = useState(String(server.weight));
  const [enabled, setEnabled] = useState(server.enabled);
  const [confirming, setConfirming] = useState(false);
  // Another user's change (or this one's, once applied) shows when the row has no edit of its own pending.
  useEffect(() => setWeight(String(server.weight)), [server.weight, settings.version]);
  useEffect(() => setEnabled(server.enabled), [server.enabled, settings.version]);
  const changed = weight !== String(server.weight) || enabled !== server.enabled;
  const id = `server-${server.address.replace(/[^A-Za-z0-9]/g, '-')}`;
  const save = () => {
    const body: { weight?: number; enabled?: boolean } = {};
    if (weight !== String(server.weight)) body.weight = Number(weight);
    if (enabled !== server.enabled) body.enabled = enabled;
    void settings.apply(`Apply ${server.address}`, 'PATCH', serverPath(server.address), body);
  };
  return (
    <tr data-server={server.address}>
      <th scope="row">{server.address}</th>
      <td>
        <input
          id={`${id}-weight`}
          class="weight"
          type="number"
          min={1}
          max={100000}
          step={1}
          aria-label={`Weight of ${server.address}`}
          value={weight}
          onInput={(e) => setWeight((e.target as HTMLInputElement).value)}
          {...guarded(settings)}
        />
      </td>
      <td>
        <input id={`${id}-enabled`} type="checkbox" aria-label={`Enabled ${server.address}`} checked={enabled} onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)} {...guarded(settings)} />
      </td>
      <td class="num" data-col="weight-percent">
        {server.loadBalanceWeightPercent === undefined ? '–' : `${server.loadBalanceWeightPercent.toFixed(1)} %`}
      </td>
      <td class="num" data-col="distribution">
        {server.requestDistributionPercent.toFixed(1)} %
      </td>
      <td class="actions">
        {confirming ? (
          <ConfirmRemove
            busy={settings.busy}
            onYes={() => {
              setConfirming(false);
              void settings.apply(`Remove ${server.address}`, 'DELETE', serverPath(server.address));
            }}
            onCancel={() => setConfirming(false)}
          >
            Remove {server.address} from the farm? Its requests in flight finish; new ones go to the other servers.
          </ConfirmRemove>
        ) : (
          <div class="buttons">
            <button type="button" aria-label={`Apply ${server.address}`} onClick={save} {...guarded(settings, !changed)}>
              Apply
            </button>
            <button type="button" aria-label={`Remove ${server.address}`} onClick={() => setConfirming(true)} {...guarded(settings)}>
              Remove
            </button>
          </div>
        )}
      </td>
    </tr>
  );
}

function AddServer(props: { readonly settings: FarmSettings }) {
  const { settings } = props;
  const [address, setAddress] = useState('');
  const [weight, setWeight] = useState('100');
  const submit = async (e: Event) => {
    e.preventDefault();
    const done = await settings.apply(`Add Server ${address}`, 'POST', '/servers', { address: address.trim(), weight: Number(weight) });
    if (done) {
      setAddress('');
      setWeight('100');
    }
  };
  const addressProblem = settings.problemAt('address');
  const weightProblem = settings.problemAt('weight');
  return (
    <form class="settings inline" aria-labelledby="add-server-title" onSubmit={(e) => void submit(e)}>
      <h2 id="add-server-title">Add Server</h2>
      <Field id="add-address" label="Server address" hint="host:port, e.g. 10.0.0.12:8080 or [::1]:9001" problem={addressProblem}>
        <input id="add-address" type="text" required value={address} aria-describedby={describedBy('add-address', true, addressProblem)} aria-invalid={addressProblem ? 'true' : undefined} onInput={(e) => setAddress((e.target as HTMLInputElement).value)} disabled={!settings.canAct || settings.busy} />
      </Field>
      <Field id="add-weight" label="Weight" hint="relative share: 100 (default); 200 takes twice as much" problem={weightProblem}>
        <input id="add-weight" type="number" min={1} max={100000} step={1} value={weight} aria-describedby={describedBy('add-weight', true, weightProblem)} aria-invalid={weightProblem ? 'true' : undefined} onInput={(e) => setWeight((e.target as HTMLInputElement).value)} disabled={!settings.canAct || settings.busy} />
      </Field>
      <button type="submit" {...guarded(settings)}>
        Add Server
      </button>
    </form>
  );
}

export function ServersPage(props: { readonly farm: string; readonly who: Whoami; readonly eventTick: number; readonly tabs: ComponentChildren }) {
  const settings = useFarmSettings(props.farm, props.who, props.eventTick);
  const data = settings.data;
  return (
    <FarmFeature farm={props.farm} title="Servers" id="servers" settings={settings} tabs={props.tabs}>
      {data && (
        <>
          <div class="toolbar">
            <span class={data.enabled ? 'ok' : 'warn'} data-testid="farm-status">
              Farm {data.enabled ? 'online' : 'offline (its sites answer 502.4)'}
            </span>
            <button type="button" onClick={() => void settings.apply(data.enabled ? 'Take Farm Offline' : 'Bring Online', 'PATCH', '', { enabled: !data.enabled })} {...guarded(settings)}>
              {data.enabled ? 'Take Farm Offline' : 'Bring Online'}
            </button>
          </div>
          <OtherProblems problems={settings.otherProblems(['address', 'weight'])} />
          <div class="scroll">
            <table class="servers">
              <caption>Servers of {data.name} (the config file; Apply saves and reloads, the servers keep their counters)</caption>
              <thead>
                <tr>
                  <th scope="col">Server</th>
                  <th scope="col">Weight</th>
                  <th scope="col">Enabled</th>
                  <th scope="col">Load Balance Weight</th>
                  <th scope="col">Request Distribution</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.servers.map((s) => (
                  <ServerRow key={s.address} server={s} settings={settings} />
                ))}
              </tbody>
            </table>
          </div>
          <AddServer settings={settings} />
        </>
      )}
    </FarmFeature>
  );
}
