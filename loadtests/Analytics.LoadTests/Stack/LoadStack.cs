using System.Globalization;
using Analytics.LocalStack;
using ClickHouse.Driver;
using StackExchange.Redis;

namespace Analytics.LoadTests.Stack;

/// <summary>How to get a service to load: start one (default) or use a running one (<see cref="Target"/>).</summary>
internal sealed record StackOptions
{
    public Uri? Target { get; init; }

    public string? Redis { get; init; }

    public string? ClickHouse { get; init; }

    public string? AdminToken { get; init; }

    public string? ServicePath { get; init; }

    public bool AllowDebug { get; init; }

    public bool KeepData { get; init; }

    /// <summary>Extra configuration of the service child, as environment variables (Analytics__Rollup__Enabled=false …).</summary>
    public IReadOnlyDictionary<string, string> ServiceSettings { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// The environment of a load test. Unless told a target, it starts its own: a Redis and a
/// ClickHouse on free loopback ports with their data under a temporary folder, and the service
/// (<c>dotnet analytics.dll serve</c>, Release) as a child process; all stopped at the end.
/// </summary>
internal sealed class LoadStack : IAsyncDisposable
{
    private readonly StackOptions _options;
    private readonly TextWriter _log;
    private LocalRedis? _redis;
    private LocalClickHouse? _clickHouse;
    private ConnectionMultiplexer? _multiplexer;
    private int _generation;

    private LoadStack(StackOptions options, TextWriter log)
    {
        _options = options;
        _log = log;
    }

    public Uri BaseAddress { get; private set; } = null!;

    public string RedisConnection { get; private set; } = "";

    public string? ClickHouseConnection { get; private set; }

    public string AdminToken { get; private set; } = "";

    public string? DataDirectory { get; private set; }

    public ServiceBuild? Build { get; private set; }

    /// <summary>The service child process (null for a target); replaced by <see cref="RestartServiceAsync"/>.</summary>
    public ChildProcess? Service { get; private set; }

    public int ServicePort { get; private set; }

    public IConnectionMultiplexer Redis => _multiplexer ?? throw new InvalidOperationException("Redis is not connected.");

    public ClickHouseClient? ClickHouse { get; private set; }

    public bool OwnsService => _options.Target is null;

    /// <summary>The local Redis's process id (from its pid file), for CPU accounting; null for a target.</summary>
    public int? RedisPid => _redis is not null && File.Exists(Path.Combine(_redis.DataDirectory, "redis.pid"))
        && int.TryParse(File.ReadAllText(Path.Combine(_redis.DataDirectory, "redis.pid")).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid
            : null;

    public static async Task<LoadStack> StartAsync(StackOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var stack = new LoadStack(options, log);
        try
        {
            await stack.StartAsync(cancellationToken);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Target is { } target)
        {
            BaseAddress = target;
            RedisConnection = _options.Redis ?? throw new InvalidOperationException("--target needs --redis (the target's Redis) to verify the counts.");
            ClickHouseConnection = _options.ClickHouse;
            AdminToken = _options.AdminToken ?? throw new InvalidOperationException("--target needs --admin-token to create the run's sites.");
            _log.WriteLine($"Target {target} (Redis {RedisConnection}{(ClickHouseConnection is null ? ", no ClickHouse: rollup not verified" : ", ClickHouse " + ClickHouseConnection)})");
        }
        else
        {
            Build = ServiceBuild.Locate(_options.ServicePath, _options.AllowDebug, _log);
            CheckPrerequisites();
            DataDirectory = Path.Combine(Path.GetTempPath(), "analytics-load-" + Guid.NewGuid().ToString("N")[..8]);
            _redis = new LocalRedis(Path.Combine(DataDirectory, "redis"), FreePort.Next());
            _clickHouse = new LocalClickHouse(Path.Combine(DataDirectory, "clickhouse"), FreePort.Next(), FreePort.Next());
            _log.WriteLine($"Starting Redis (:{_redis.Port}) and ClickHouse (:{_clickHouse.HttpPort}) under {DataDirectory} …");
            await Task.WhenAll(_redis.StartAsync(cancellationToken), _clickHouse.StartAsync(cancellationToken));
            RedisConnection = _redis.ConnectionString;
            ClickHouseConnection = _clickHouse.ConnectionString;
            AdminToken = "lt-admin-" + Guid.NewGuid().ToString("N");
            ServicePort = FreePort.Next();
            BaseAddress = new Uri($"http://127.0.0.1:{ServicePort}");
            _log.WriteLine($"Starting the service ({Build.Configuration}, {Build.DllPath}) at {BaseAddress} …");
            await StartServiceAsync(cancellationToken);
        }

        _multiplexer = await ConnectionMultiplexer.ConnectAsync(RedisConnection);
        if (ClickHouseConnection is not null)
        {
            ClickHouse = new ClickHouseClient(ClickHouseConnection);
            if (OwnsService)
            {
                await WaitForSchemaAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// The harness starts its own Redis and ClickHouse: say what is missing in its terms (the
    /// service's own messages suggest connection strings, which the harness does not take).
    /// </summary>
    private static void CheckPrerequisites()
    {
        const string Prepare = "loadtests/run installs what is missing (see loadtests/README.md)";
        if (LocalRedis.FindExecutable("redis-server") is null)
        {
            throw new InvalidOperationException($"redis-server is not installed (the harness starts its own Redis): apt-get install -y redis-server, or {Prepare}.");
        }

        var library = ChdbHost.DefaultLibraryPath();
        if (!File.Exists(library))
        {
            throw new InvalidOperationException($"The ClickHouse library {library} is missing (the harness starts its own ClickHouse): set ANALYTICS_CHDB_LIBRARY to a libchdb.so, fetch it once with ./test or ./run, or {Prepare}.");
        }
    }

    /// <summary>The service's environment: our servers, our admin token, no rate limit, quiet logs.</summary>
    private Dictionary<string, string> ServiceEnvironment()
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Redis"] = RedisConnection,
            ["ConnectionStrings__ClickHouse"] = ClickHouseConnection!,
            ["Analytics__AdminToken"] = AdminToken,
            ["Analytics__Ingest__ClientRateLimit"] = "0",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Warning",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        foreach (var (key, value) in _options.ServiceSettings)
        {
            environment[key] = value;
        }

        return environment;
    }

    private async Task StartServiceAsync(CancellationToken cancellationToken)
    {
        var log = Path.Combine(DataDirectory!, $"service-{++_generation}.log");
        Service = ChildProcess.StartDotnet("the service", Build!.DllPath,
            ["serve", "--urls", BaseAddress.ToString().TrimEnd('/')], ServiceEnvironment(), log);
        await Service.WaitReadyAsync(BaseAddress, "/readyz", TimeSpan.FromSeconds(60), cancellationToken);
    }

    /// <summary>kill -9 of the service child; returns when it is gone.</summary>
    public Task KillServiceAsync() => Service?.KillAsync() ?? throw new InvalidOperationException("There is no service child to kill (--target).");

    /// <summary>kill -9 of the local Redis; returns when it is gone.</summary>
    public Task KillRedisAsync() => _redis?.KillAsync() ?? throw new InvalidOperationException("There is no local Redis to kill (--redis or --target).");

    /// <summary>Starts the local Redis again on its port and data; it replays its AOF.</summary>
    public Task RestartRedisAsync(CancellationToken cancellationToken) =>
        _redis?.RestartAsync(cancellationToken) ?? throw new InvalidOperationException("There is no local Redis to restart (--redis or --target).");

    /// <summary>Starts the service again on the same port and waits until it is ready.</summary>
    public async Task RestartServiceAsync(CancellationToken cancellationToken)
    {
        if (Service is { } old)
        {
            await old.DisposeAsync();
        }

        await StartServiceAsync(cancellationToken);
    }

    /// <summary>The service applies its migrations at start-up in the background; the harness needs the tables before it rolls up.</summary>
    private async Task WaitForSchemaAsync(CancellationToken cancellationToken)
    {
        const string sql = "SELECT count() FROM system.tables WHERE database = 'analytics' AND name IN ('daily_site', 'daily_page', 'daily_referrer')";
        for (var attempt = 0; attempt < 300; attempt++)
        {
            if (Convert.ToInt64(await ClickHouse!.ExecuteScalarAsync(sql, cancellationToken: cancellationToken), CultureInfo.InvariantCulture) == 3)
            {
                return;
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException("The service did not create the ClickHouse tables within 30 s.");
    }

    public async ValueTask DisposeAsync()
    {
        _multiplexer?.Dispose();
        ClickHouse?.Dispose();
        if (Service is not null)
        {
            await Service.DisposeAsync();
        }

        if (_clickHouse is not null)
        {
            await _clickHouse.DisposeAsync();
        }

        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        if (DataDirectory is not null)
        {
            if (_options.KeepData)
            {
                _log.WriteLine($"Data and logs kept in {DataDirectory}");
            }
            else
            {
                try
                {
                    Directory.Delete(DataDirectory, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
