// Runs before `npm test` and `npm run demo` (pre-scripts): makes a fresh machine able to run them, by
// installing MariaDB's server and client from Debian's packages when mariadbd is missing and the npm
// dependencies when they are not installed. Plain Node, no dependencies: it runs before they exist.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const run = (cmd, args, env = process.env) => execFileSync(cmd, args, { stdio: 'inherit', env });
const has = (path) => existsSync(path);
const aptInstall = (...packages) => {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update'], env);
  run('apt-get', ['install', '-y', ...packages], env);
};

if (!['/usr/sbin/mariadbd', '/usr/bin/mariadbd', '/usr/local/bin/mariadbd'].some(has)) {
  if (process.getuid?.() !== 0 || !has('/usr/bin/apt-get')) {
    console.error('mariadbd is missing: install the packages mariadb-server and mariadb-client, then run this again.');
    process.exit(1);
  }
  aptInstall('mariadb-server', 'mariadb-client');
  // The package starts its own service; tributary's tests and demo start throwaway servers instead.
  try {
    run('service', ['mariadb', 'stop']);
  } catch {
    // no service manager: nothing was started
  }
}
// The TLS test makes its certificates with the openssl command, which a minimal Debian lacks.
if (!has('/usr/bin/openssl') && process.getuid?.() === 0 && has('/usr/bin/apt-get')) aptInstall('openssl');
// The status page test looks at the page in headless Chromium; without it that test is skipped, saying why.
if (!['/usr/bin/chromium', '/usr/bin/chromium-browser'].some(has) && process.getuid?.() === 0 && has('/usr/bin/apt-get')) {
  try {
    aptInstall('chromium');
  } catch {
    console.error('could not install chromium: the status page screenshot test will be skipped');
  }
}
if (!has(new URL('../node_modules/.package-lock.json', import.meta.url))) {
  run('npm', ['ci', '--no-audit', '--no-fund']);
}
