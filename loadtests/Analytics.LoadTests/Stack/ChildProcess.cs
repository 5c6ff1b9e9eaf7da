using System.Diagnostics;
using Analytics.LocalStack;

namespace Analytics.LoadTests.Stack;

/// <summary>
/// A .NET program of ours run as a child process (the service, or a comparison target), with its
/// output in a log file (a <see cref="ServerProcess"/>), plus what the harness measures of it.
/// <see cref="KillAsync"/> is kill -9; <see cref="StopAsync"/> is SIGTERM.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(15);

    private readonly ServerProcess _process;

    private ChildProcess(ServerProcess process) => _process = process;

    public string Name => _process.Name;

    public string LogPath => _process.LogPath;

    public int Pid => _process.Pid;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <c>dotnet DLL ARGS</c> in the DLL's folder with extra environment variables.</summary>
    public static ChildProcess StartDotnet(string name, string dll, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string logPath) =>
        new(ServerProcess.StartChild(name, DotnetHost(), [dll, .. arguments], environment, Path.GetDirectoryName(dll)!, logPath));

    /// <summary>CPU time used so far (user + system).</summary>
    public TimeSpan CpuTime() => _process.CpuTime();

    /// <summary>Resident memory (VmRSS) right now, in bytes; null once it has exited.</summary>
    public long? ResidentBytes() => HasExited ? null : ProcessMemory.ResidentBytes(Pid);

    /// <summary>Waits until GET <paramref name="path"/> answers 2xx; fails with the log's tail if the process exits first.</summary>
    public async Task WaitReadyAsync(Uri baseAddress, string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.ExitCode is { } code)
            {
                throw new InvalidOperationException($"{Name} exited at start (code {code}):\n{LogTail()}");
            }

            try
            {
                using var response = await http.GetAsync(path, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            await Task.Delay(50, cancellationToken);
        }

        throw new TimeoutException($"{Name} did not answer {path} within {timeout.TotalSeconds:0} s:\n{LogTail()}");
    }

    /// <summary>kill -9, as a crash would; returns when the process is gone.</summary>
    public Task KillAsync() => _process.KillAsync();

    /// <summary>SIGTERM (the service flushes and stops), then SIGKILL after the grace period.</summary>
    public Task StopAsync(TimeSpan? grace = null) => _process.StopAsync(grace ?? Grace);

    public string LogTail(int lines = 20) => _process.LogTail(lines);

    public async ValueTask DisposeAsync()
    {
        await _process.StopAsync(Grace);
        await _process.DisposeAsync();
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : "dotnet";
}
