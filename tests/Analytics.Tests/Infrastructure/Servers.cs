using Analytics.LocalStack;
using ClickHouse.Driver;
using Analytics.Tests.Infrastructure;
using StackExchange.Redis;

[assembly: AssemblyFixture(typeof(Servers))]

namespace Analytics.Tests.Infrastructure;

/// <summary>
/// The real Redis and ClickHouse every integration test talks to: started once per test run on
/// free loopback ports with their data in a temporary folder, stopped at the end.
/// Tests keep out of each other's way by using their own site ids.
/// </summary>
public sealed class Servers : IAsyncLifetime
{
    private LocalRedis? _redis;
    private LocalClickHouse? _clickHouse;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "analytics-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public string RedisConnection => _redis!.ConnectionString;

    public string ClickHouseConnection => _clickHouse!.ConnectionString;

    public IConnectionMultiplexer Redis { get; private set; } = null!;

    public ClickHouseClient ClickHouse { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        _redis = new LocalRedis(Path.Combine(Root, "redis"), FreePort.Next());
        _clickHouse = new LocalClickHouse(Path.Combine(Root, "clickhouse"), FreePort.Next(), FreePort.Next());
        await Task.WhenAll(_redis.StartAsync(), _clickHouse.StartAsync());
        Redis = await ConnectionMultiplexer.ConnectAsync(RedisConnection);
        ClickHouse = new ClickHouseClient(ClickHouseConnection);
    }

    /// <summary>A ClickHouse of the test's own, for tests that stop and start it.</summary>
    internal LocalClickHouse PrivateClickHouse() => new(Path.Combine(Root, "clickhouse-" + Guid.NewGuid().ToString("N")[..8]), FreePort.Next(), FreePort.Next());

    /// <summary>A Redis of the test's own, for tests that stop and start it.</summary>
    internal LocalRedis PrivateRedis() => new(Path.Combine(Root, "redis-" + Guid.NewGuid().ToString("N")[..8]), FreePort.Next());

    public async ValueTask DisposeAsync()
    {
        Redis?.Dispose();
        ClickHouse?.Dispose();
        if (_clickHouse is not null)
        {
            await _clickHouse.DisposeAsync();
        }

        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A site id no other test uses.</summary>
    public static string NewSiteId(string prefix = "t") => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 64)];
}
