/** Entry point: mounts the console into #console (index.html loads this file; nothing inline). */
import { render } from 'preact';
import { App } from './app';

const root = document.getElementById('console');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
