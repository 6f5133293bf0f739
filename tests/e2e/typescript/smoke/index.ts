// A ConfigMap and a Secret through pulumi-resource-kubernetes, registered by type token: the test
// is about the Node.js language host and the engine, so it needs no Kubernetes SDK from npm.
import * as pulumi from "@pulumi/pulumi";

// The SDK's resource classes are abstract: a provider's SDK subclasses them, and so does this.
class KubernetesProvider extends pulumi.ProviderResource {}
class KubernetesObject extends pulumi.CustomResource {}

const config = new pulumi.Config();
const provider = new KubernetesProvider("kubernetes", "test-cluster", {
    kubeconfig: config.require("kubeconfigPath"),
});
const metadata = { name: "typescript-smoke", namespace: "default" };

const configMap = new KubernetesObject(
    "kubernetes:core/v1:ConfigMap",
    "smoke",
    { apiVersion: "v1", kind: "ConfigMap", metadata, data: { hello: "world" } },
    { provider },
);
// The stack's config secret, in an object that holds it.
new KubernetesObject(
    "kubernetes:core/v1:Secret",
    "smoke",
    { apiVersion: "v1", kind: "Secret", metadata, stringData: { token: config.requireSecret("token") } },
    { provider },
);

export const configMapId = configMap.id;
