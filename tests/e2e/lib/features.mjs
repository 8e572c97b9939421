// features.mjs - what this build of the gateway can run, for tests of
// features that arrive in later releases (container workers: the REST
// callee and the message forwarder).
//
// A test of such a feature is skipped, with the gateway's own sentence as
// the reason, only while `switchboard check` says the feature is "not
// supported yet"; any other refusal runs the test, which then fails.

import fs from 'node:fs';
import path from 'node:path';
import { makeConfig, runCli, tempDir } from './gateway.mjs';

/** A container worker running one RESTCallee on realm, as Crossbar writes it. */
export function restCalleeWorker({ procedure, baseurl, realm = 'realm1', port = 8080 }) {
	return {
		type: 'container',
		options: { pythonpath: ['..'] },
		components: [{
			type: 'class',
			classname: 'crossbar.bridge.rest.RESTCallee',
			realm,
			extra: { procedure, baseurl },
			transport: {
				type: 'websocket',
				endpoint: { type: 'tcp', host: '127.0.0.1', port },
				url: `ws://127.0.0.1:${port}/ws`,
			},
		}],
	};
}

/** Why config cannot run here (a string to skip with), or false when it can. */
export function notYetSupported(config) {
	const file = path.join(tempDir('sb-feature-'), 'config.json');
	fs.writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
	const r = runCli(['check', '--config', file]);
	if (r.code !== 0 && /not supported yet/.test(r.stderr)) {
		return `this build says: ${r.stderr.trim().replace(/^.*?: /, '')}`;
	}
	return false;
}

/** Skip reason while container workers are "not supported yet", else false. */
export const noContainerWorkers = () => {
	const cfg = makeConfig();
	cfg.workers.push(restCalleeWorker({ procedure: 'webapp.api', baseurl: 'http://127.0.0.1:9/' }));
	return notYetSupported(cfg);
};
