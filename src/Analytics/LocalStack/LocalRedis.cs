using System.Net.Sockets;
using System.Text;

namespace Analytics.LocalStack;

/// <summary>A Redis server on loopback with its data (AOF on) under a folder of ours.</summary>
internal sealed class LocalRedis : IAsyncDisposable
{
    private ServerProcess? _process;

    public LocalRedis(string dataDirectory, int port)
    {
        DataDirectory = Path.GetFullPath(dataDirectory);
        Port = port;
    }

    public string DataDirectory { get; }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false";

    public bool IsRunning => _process is { HasExited: false };

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(DataDirectory);
        var executable = FindExecutable("redis-server")
            ?? throw new InvalidOperationException("redis-server was not found on PATH. Install it (apt-get install redis-server) or set ConnectionStrings__Redis.");
        ServerProcess.StopLeftover("redis", DataDirectory);
        if (!FreePort.IsFree(Port))
        {
            throw new InvalidOperationException($"Port {Port} for the local Redis is taken. Set ANALYTICS_REDIS_PORT to a free port, or ConnectionStrings__Redis to use that server.");
        }

        _process = ServerProcess.Start("redis", executable,
        [
            "--bind", "127.0.0.1",
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--dir", DataDirectory,
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "yes",
        ], Path.Combine(DataDirectory, "redis.log"));

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Redis exited at start:\n{_process.LogTail()}");
            }

            if (await PingAsync(cancellationToken))
            {
                return;
            }

            await Task.Delay(50, cancellationToken);
        }

        throw new TimeoutException($"Redis did not answer PING on port {Port}:\n{_process.LogTail()}");
    }

    public Task StopAsync() => _process?.StopAsync() ?? Task.CompletedTask;

    public Task KillAsync() => _process?.KillAsync() ?? Task.CompletedTask;

    /// <summary>Starts this Redis again after it stopped or was killed: same port, same data (its AOF is replayed).</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
            _process = null;
        }

        await StartAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }

    private async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, cancellationToken);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken);
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer, cancellationToken);
            // Redis answers -LOADING while it replays the AOF: not ready yet.
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    internal static string? FindExecutable(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var directory in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/sbin").Append("/usr/bin"))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
