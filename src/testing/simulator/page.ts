/**
 * The HTML the simulated KMS serves: the onboarding page and the Not Found page.
 */
/** The onboarding page (`GET /`): a Bootstrap form and a Finish button that call the prpc API. */
export function onboardingPage(state: { bootstrapped: boolean; mode: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dstack KMS onboarding (SIMULATOR)</title>
<style>body{font-family:sans-serif;max-width:52em;margin:2em auto}pre{background:#eee;padding:1em;overflow:auto;white-space:pre-wrap;word-break:break-all}</style></head>
<body>
<h1>dstack KMS — onboarding</h1>
<p><strong>Simulated KMS</strong> (kms-registry simulate-kms): real keys, FORGED quote under a simulated root — not genuine TDX.</p>
<p>State: ${state.bootstrapped ? "bootstrapped" : "not bootstrapped"}, mode: ${state.mode}.</p>
<form id="bootstrap"><label>Domain <input name="domain" required placeholder="kms.example.com"></label>
<button type="submit">Bootstrap</button></form>
<pre id="out"></pre>
<button id="finish">Finish Setup</button>
<script>
document.getElementById("bootstrap").addEventListener("submit", async (e) => {
  e.preventDefault();
  const domain = new FormData(e.target).get("domain");
  const r = await fetch("/prpc/Onboard.Bootstrap?json", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ domain }) });
  const j = await r.json();
  document.getElementById("out").textContent = j.error ? "Error: " + j.error :
    JSON.stringify({ caPubkey: "0x" + j.ca_pubkey, k256Pubkey: "0x" + j.k256_pubkey, quote: j.quote && "0x" + j.quote, eventlog: j.eventlog && "0x" + j.eventlog, attestation: j.attestation && "0x" + j.attestation }, null, 2);
});
document.getElementById("finish").addEventListener("click", async () => {
  const r = await fetch("/finish");
  document.getElementById("out").textContent = await r.text();
});
</script>
</body></html>
`;
}

/** The Not Found page a dstack KMS (a Rocket server) answers with. */
export const NOT_FOUND_HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>404 Not Found</title></head>
<body align="center"><div role="main" align="center"><h1>404: Not Found</h1><p>The requested resource could not be found.</p><hr/></div>
<div role="contentinfo" align="center"><small>Rocket</small></div></body></html>
`;
