// pulumi-language-python for regstack: a minimal Pulumi language host for
// Python programs, written for this project.
//
// Why this exists: the upstream host (module github.com/pulumi/pulumi/sdk/
// python/cmd/pulumi-language-python/v3) is not served by the Go module proxy
// this project builds from, at any version, and no prebuilt binary may be
// downloaded. This host implements the part of the LanguageRuntime gRPC
// service that `pulumi preview/up/destroy/refresh` use (Handshake,
// GetPluginInfo, GetRequiredPlugins/Packages, Run) on top of the pulumi
// sdk/v3 Go module, and runs the program through the upstream
// `pulumi-language-python-exec` shim that ships in that same sdk module (it is
// installed beside this binary by scripts/toolchain.sh). Everything else
// (InstallDependencies, GenerateProject, Pack, ...) answers Unimplemented:
// install the program's dependencies into its virtualenv yourself.
//
// Virtualenv: the `virtualenv` runtime option of Pulumi.yaml (absolute, or
// relative to the project root) selects the interpreter; without it, $PULUMI_
// PYTHON_CMD, then python3 on PATH.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set with -ldflags "-X main.version=vX.Y.Z" by scripts/toolchain.sh.
var version = "v0.0.0-dev"

// Exit code with which pulumi-language-python-exec says it has already shown
// the user an actionable message (the engine should not add another).
const bailExitCode = 32

func main() {
	fs := flag.NewFlagSet("pulumi-language-python", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	// Flags the engine may pass to any plugin; accepted and ignored.
	fs.Bool("logtostderr", false, "")
	fs.Bool("logflow", false, "")
	fs.Int("v", 0, "")
	fs.String("tracing", "", "")
	fs.String("root", "", "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version)
		return
	}
	var engineAddress string
	if fs.NArg() > 0 {
		engineAddress = fs.Arg(0)
	}

	self, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	execShim := filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	if _, err := os.Stat(execShim); err != nil {
		fatal(fmt.Errorf("the Python exec shim is missing beside the language host: %w", err))
	}

	host := &pythonHost{engineAddress: engineAddress, execShim: execShim}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fatal(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	// The engine reads the port from our first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatal(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	execShim      string
}

func (h *pythonHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// Plugins are found on PATH (ambient plugins) or loaded on demand when the
// program registers resources, so nothing is required up front.
func (h *pythonHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *pythonHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *pythonHost) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	python, _, err := resolvePython(req.GetInfo())
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	out, err := exec.CommandContext(ctx, python, "--version").CombinedOutput()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%s --version: %v", python, err)
	}
	v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Python"))
	return &pulumirpc.AboutResponse{Executable: python, Version: v}, nil
}

// resolvePython picks the interpreter for a program and the virtualenv it
// belongs to ("" for none).
func resolvePython(info *pulumirpc.ProgramInfo) (string, string, error) {
	opts := map[string]any{}
	if info.GetOptions() != nil {
		opts = info.GetOptions().AsMap()
	}
	if tc, ok := opts["toolchain"].(string); ok && tc != "" && tc != "pip" {
		return "", "", fmt.Errorf("toolchain %q is not supported by this language host (use pip with a virtualenv)", tc)
	}
	if venv, ok := opts["virtualenv"].(string); ok && venv != "" {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(info.GetRootDirectory(), venv)
		}
		python := filepath.Join(venv, "bin", "python")
		if _, err := os.Stat(python); err != nil {
			return "", "", fmt.Errorf("the virtualenv %s has no bin/python; create it and install the program's dependencies first", venv)
		}
		return python, venv, nil
	}
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		return cmd, "", nil
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		return "", "", errors.New("python3 is not on PATH and no virtualenv is configured")
	}
	return python, "", nil
}

func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	python, venv, err := resolvePython(req.GetInfo())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()

	args := []string{"-u", h.execShim}
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engine)
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("organization", req.GetOrganization())
	add("root_directory", req.GetInfo().GetRootDirectory())
	program := req.GetInfo().GetProgramDirectory()
	if ep := req.GetInfo().GetEntryPoint(); ep != "" && ep != "." {
		program = filepath.Join(program, ep)
	}
	if program == "" {
		program = req.GetProgram()
	}
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	env := os.Environ()
	if venv != "" {
		env = append(env,
			"VIRTUAL_ENV="+venv,
			"PATH="+filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	config, err := configEnv(req)
	if err != nil {
		return nil, err
	}
	env = append(env, config...)

	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = env
	cmd.Dir = req.GetPwd()
	// The engine shows what a plugin writes; pass the program's output through.
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Stdin = nil
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok {
				if ws.ExitStatus() == bailExitCode {
					return &pulumirpc.RunResponse{Bail: true}, nil
				}
				return &pulumirpc.RunResponse{
					Error: fmt.Sprintf("Program exited with non-zero exit code: %d", ws.ExitStatus()),
				}, nil
			}
			return &pulumirpc.RunResponse{Error: "Program exited unexpectedly: " + exitErr.Error()}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run %s): %v", python, err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a plugin written in Python, such as a policy pack: the
// plugin directory's __main__.py in the project's interpreter, its output
// streamed back to the engine (which reads the plugin's port from stdout).
func (h *pythonHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, stream grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	python, venv, err := resolvePython(req.GetInfo())
	if err != nil {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetProgram()
	}
	cmd := exec.CommandContext(stream.Context(), python, append([]string{"-u", dir}, req.GetArgs()...)...)
	cmd.Dir = req.GetPwd()
	cmd.Env = append(os.Environ(), req.GetEnv()...)
	if venv != "" {
		cmd.Env = append(cmd.Env, "VIRTUAL_ENV="+venv,
			"PATH="+filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return status.Errorf(codes.Internal, "starting %s: %v", python, err)
	}
	var sendMu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(r)
	}
	pump := func(r io.Reader, wrap func([]byte) *pulumirpc.RunPluginResponse, done chan<- error) {
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				chunk := append([]byte(nil), buf[:n]...)
				if sendErr := send(wrap(chunk)); sendErr != nil {
					done <- sendErr
					return
				}
			}
			if err != nil {
				done <- nil
				return
			}
		}
	}
	done := make(chan error, 2)
	go pump(stdout, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	}, done)
	go pump(stderr, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	}, done)
	<-done
	<-done
	code := 0
	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = exitErr.ExitCode()
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

// configEnv passes stack configuration the way the Python SDK reads it.
func configEnv(req *pulumirpc.RunRequest) ([]string, error) {
	var env []string
	if cfg := req.GetConfig(); cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("serialising configuration: %w", err)
		}
		env = append(env, "PULUMI_CONFIG="+string(b))
	}
	if keys := req.GetConfigSecretKeys(); len(keys) > 0 {
		b, err := json.Marshal(keys)
		if err != nil {
			return nil, fmt.Errorf("serialising secret keys: %w", err)
		}
		env = append(env, "PULUMI_CONFIG_SECRET_KEYS="+string(b))
	}
	return env, nil
}
