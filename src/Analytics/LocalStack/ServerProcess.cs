using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Analytics.LocalStack;

/// <summary>
/// A local server started as a child process (Redis, ClickHouse). Its output goes to a log
/// file under the data folder; stopping sends SIGTERM so Redis can flush its AOF.
/// </summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, string name, string logPath)
    {
        _process = process;
        Name = name;
        LogPath = logPath;
    }

    public string Name { get; }

    public string LogPath { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts the server in a session of its own (setsid), so a Ctrl-C in the terminal reaches only
    /// us and we stop the servers after the service. A server left behind by a crash of ours
    /// (found by its pid file in the same folder) is stopped first.
    /// </summary>
    public static ServerProcess Start(string name, string fileName, IEnumerable<string> arguments, string logPath)
    {
        var folder = Path.GetDirectoryName(logPath)!;
        Directory.CreateDirectory(folder);
        var pidFile = Path.Combine(folder, name + ".pid");
        StopLeftover(name, folder);

        var setsid = LocalRedis.FindExecutable("setsid");
        var info = StartInfo(setsid ?? fileName, setsid is null ? arguments : [fileName, .. arguments]);
        var server = Launch(info, name, logPath);
        File.WriteAllText(pidFile, server.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return server;
    }

    /// <summary>
    /// Starts a program of ours as a plain child (same session, no pid file), with extra
    /// environment variables, in <paramref name="workingDirectory"/>: what the load harness runs.
    /// </summary>
    public static ServerProcess StartChild(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string workingDirectory, string logPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var info = StartInfo(fileName, arguments);
        info.WorkingDirectory = workingDirectory;
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return Launch(info, name, logPath);
    }

    private static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    /// <summary>Starts the process with its output and error going to the log file.</summary>
    private static ServerProcess Launch(ProcessStartInfo info, string name, string logPath)
    {
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {info.FileName}.");
        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var gate = new object();
        var openStreams = 2;
        // Output and error each end with a null line; the log closes after both.
        void Write(string? line)
        {
            lock (gate)
            {
                if (line is not null)
                {
                    log.WriteLine(line);
                }
                else if (--openStreams == 0)
                {
                    log.Dispose();
                }
            }
        }

        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServerProcess(process, name, logPath);
    }

    /// <summary>Its exit code, once it has exited.</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>CPU time used so far (user + system); zero once it has exited.</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.HasExited ? TimeSpan.Zero : _process.TotalProcessorTime;
    }

    /// <summary>The last lines of the server's log, for error messages.</summary>
    public string LogTail(int lines = 15)
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Sends SIGTERM and waits; SIGKILL when the server does not stop in time.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        if (_process.HasExited)
        {
            return;
        }

        _ = Kill(_process.Id, SigTerm);
        using var timeout = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>Kills the server at once, as a crash would.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    /// <summary>
    /// Stops the server named <paramref name="name"/> that a crashed run of ours left behind in
    /// <paramref name="folder"/> (its pid file there), so its port is free again. The pid must
    /// still be that server: its command line names the folder, or (Redis rewrites its command
    /// line) it runs in the folder.
    /// </summary>
    public static void StopLeftover(string name, string folder)
    {
        var pidFile = Path.Combine(Path.GetFullPath(folder), name + ".pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
        {
            return;
        }

        folder = Path.GetFullPath(folder);
        try
        {
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            var workingDirectory = new DirectoryInfo($"/proc/{pid}/cwd").LinkTarget;
            if (commandLine.Contains(folder, StringComparison.Ordinal) || workingDirectory == folder)
            {
                using var leftover = Process.GetProcessById(pid);
                _ = Kill(pid, SigTerm);
                if (!leftover.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    leftover.Kill();
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            // Not running any more.
        }
    }

    private const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
