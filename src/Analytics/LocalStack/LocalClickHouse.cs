using System.Globalization;

namespace Analytics.LocalStack;

/// <summary>
/// A ClickHouse server on loopback: clickhouse-local from the chdb library, told to serve the
/// HTTP and native protocols. It runs in a child process of ours (<c>analytics clickhouse-local</c>)
/// because the library's query call blocks for as long as the server serves.
/// </summary>
internal sealed class LocalClickHouse : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private ServerProcess? _process;

    public LocalClickHouse(string dataDirectory, int httpPort, int tcpPort, string? library = null)
    {
        DataDirectory = Path.GetFullPath(dataDirectory);
        HttpPort = httpPort;
        TcpPort = tcpPort;
        Library = library ?? ChdbHost.DefaultLibraryPath();
    }

    public string DataDirectory { get; }

    public int HttpPort { get; }

    public int TcpPort { get; }

    public string Library { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={HttpPort};Username=default";

    public bool IsRunning => _process is { HasExited: false };

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(Library))
        {
            throw new InvalidOperationException($"The ClickHouse library {Library} is missing. Run ./run or ./test once (they fetch it), set ANALYTICS_CHDB_LIBRARY, or set ConnectionStrings__ClickHouse.");
        }

        ServerProcess.StopLeftover("clickhouse", DataDirectory);
        foreach (var port in new[] { HttpPort, TcpPort })
        {
            if (!FreePort.IsFree(port))
            {
                throw new InvalidOperationException($"Port {port} for the local ClickHouse is taken. Set ANALYTICS_CLICKHOUSE_HTTP_PORT / ANALYTICS_CLICKHOUSE_TCP_PORT to free ports, or ConnectionStrings__ClickHouse to use that server.");
            }
        }

        Directory.CreateDirectory(DataDirectory);
        var config = Path.Combine(DataDirectory, "config.xml");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            <clickhouse>
                <listen_host>127.0.0.1</listen_host>
                <http_port>{HttpPort}</http_port>
                <tcp_port>{TcpPort}</tcp_port>
            </clickhouse>
            """), cancellationToken);

        var (fileName, prefix) = SelfCommand();
        _process = ServerProcess.Start("clickhouse", fileName,
            [.. prefix, "clickhouse-local", "--config", config, "--path", Path.Combine(DataDirectory, "db"), "--library", Library],
            Path.Combine(DataDirectory, "clickhouse.log"));

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"ClickHouse exited at start:\n{_process.LogTail()}");
            }

            if (await PingAsync(cancellationToken))
            {
                // A failed start exits with 0 while another server may answer the ping: make sure ours lives.
                await Task.Delay(150, cancellationToken);
                if (!_process.HasExited)
                {
                    return;
                }
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException($"ClickHouse did not answer /ping on port {HttpPort}:\n{_process.LogTail()}");
    }

    public Task StopAsync() => _process?.StopAsync() ?? Task.CompletedTask;

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
            using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{HttpPort}/ping"), cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>How to start this program again: its apphost, or <c>dotnet analytics.dll</c>.</summary>
    private static (string FileName, string[] Prefix) SelfCommand()
    {
        var assembly = typeof(LocalClickHouse).Assembly.Location;
        var apphost = Path.Combine(Path.GetDirectoryName(assembly)!, "analytics");
        if (File.Exists(apphost))
        {
            return (apphost, []);
        }

        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        return (dotnet, [assembly]);
    }
}
