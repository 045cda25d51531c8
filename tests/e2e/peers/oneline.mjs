// oneline.mjs: what the test clients share. Their stdout carries exactly one JSON result
// line (anything a library prints goes to stderr), written once, then the process exits;
// an error, an unhandled rejection or the overall timeout becomes a failure line.
//   const { finish, fail } = resultLine(20000, (err) => ({ ok: false, error: err }));
export function errorText(err) {
  let s = String(err && err.message ? err.message : err);
  if (err && err.code !== undefined && !s.includes(String(err.code))) s = `${err.code} ${s}`;
  if (err && err.data !== undefined) s += ` data=${JSON.stringify(err.data)}`;
  const c = err && err.cause;
  if (c) s += `: ${c.code || ''}${c.code && c.message ? ' ' : ''}${c.message || ''}`;
  return s;
}

export function resultLine(timeoutMs, failure) {
  console.log = console.error;
  console.info = console.error;
  console.warn = console.error;
  console.debug = console.error;
  let done = false;
  const finish = (obj, code) => {
    if (done) return;
    done = true;
    process.stdout.write(JSON.stringify(obj) + '\n', () => process.exit(code));
  };
  const fail = (err) => finish(failure(errorText(err)), 1);
  process.on('unhandledRejection', fail);
  process.on('uncaughtException', fail);
  setTimeout(() => fail(`timeout after ${timeoutMs / 1000}s`), timeoutMs);
  return { finish, fail };
}
