// regstack's Registry from TypeScript: a lab registry (dev profile, CNCF Distribution, a
// self-signed CA chain, one user) on the cluster your kubeconfig names. The SDK is generated from
// the component package by `pulumi install` (Pulumi.yaml names the package).
import * as pulumi from "@pulumi/pulumi";
import * as regstack from "@regstack/regstack";

const config = new pulumi.Config();

const registry = new regstack.Registry("registry", {
    profile: "dev",
    backend: "distribution",
    // On a control plane without nodes (the project's engine tests) no pod becomes ready: true
    // there, never on a real cluster.
    skipAwait: config.getBoolean("skipAwait") ?? false,
    registry: {
        // The MicroK8s addon's namespace, so clients need no change; regstack creates it.
        namespace: config.get("namespace") ?? "container-registry",
        service: { type: "NodePort", nodePort: 32000 },
    },
    tls: { mode: "self-signed" },
    auth: {
        enabled: true,
        // A stack secret: it stays encrypted in the state and out of the logs.
        users: [{ name: "dev", password: config.requireSecret("registryPassword") }],
    },
});

// The names regstack's own program exports.
export const endpoint = registry.endpoint;
export const in_cluster_endpoint = registry.inClusterEndpoint;
export const ca_secret_name = registry.caSecretName;
export const docker_login = registry.dockerLogin;
