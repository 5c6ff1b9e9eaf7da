using System.Net;
using System.Net.Sockets;
using Analytics.ClickHouse;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Settings;

public sealed class ClickHouseTimeoutTests(Servers servers)
{
    [Fact]
    public void ATimeoutIsAddedUnlessTheConnectionStringHasOne()
    {
        Assert.Contains($"Timeout={ClickHouseExtensions.DefaultTimeoutSeconds}", ClickHouseExtensions.WithTimeout("Host=127.0.0.1;Port=8123;Username=default"), StringComparison.OrdinalIgnoreCase);
        var own = ClickHouseExtensions.WithTimeout("Host=127.0.0.1;Port=8123;Timeout=5");
        Assert.Contains("Timeout=5", own, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain($"Timeout={ClickHouseExtensions.DefaultTimeoutSeconds}", own, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task AStalledClickHouseFailsAfterTheTimeoutAndARealOneStillAnswers()
    {
        using var real = new global::ClickHouse.Driver.ClickHouseClient(ClickHouseExtensions.WithTimeout(servers.ClickHouseConnection));
        Assert.True(await real.PingAsync());

        // A server that accepts the connection and never answers.
        using var stalled = new TcpListener(IPAddress.Loopback, 0);
        stalled.Start();
        var accepted = new List<Socket>();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                accepted.Add(await stalled.AcceptSocketAsync());
            }
        });
        var port = ((IPEndPoint)stalled.LocalEndpoint).Port;
        using var client = new global::ClickHouse.Driver.ClickHouseClient(ClickHouseExtensions.WithTimeout($"Host=127.0.0.1;Port={port};Username=default;Timeout=1"));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<Exception>(() => client.ExecuteScalarAsync("SELECT 1"));
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(10));
        accepted.ForEach(s => s.Dispose());
    }
}
