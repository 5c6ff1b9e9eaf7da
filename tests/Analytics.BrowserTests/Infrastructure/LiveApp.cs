using System.Net.Sockets;
using Analytics.Tests.Infrastructure;

namespace Analytics.BrowserTests.Infrastructure;

internal static class LiveApp
{
    /// <summary>
    /// Starts the service on Kestrel on a free port of 127.0.0.1 instead of the in-memory test
    /// server, so that a real browser or a node process can reach it, and returns its address.
    /// <see cref="TestApp.CreateClient()"/> clients then talk to it over the network too.
    /// </summary>
    public static Uri StartOnLoopback(this TestApp app) => app.StartOnLoopback(0);

    /// <summary>Starts the service on Kestrel on this port of 127.0.0.1 (0: a free one).</summary>
    public static Uri StartOnLoopback(this TestApp app, int port)
    {
        app.UseKestrel(port);
        app.StartServer();
        var address = app.ClientOptions.BaseAddress;
        Assert.Equal("127.0.0.1", address.Host);
        Assert.NotEqual(0, address.Port);
        Assert.True(port == 0 || port == address.Port, $"Asked for port {port}, listening on {address.Port}.");
        return address;
    }

    /// <summary>
    /// A new instance of the service on the port an earlier one (now stopped) listened on, as after
    /// a restart; binding is retried for a while in case the old socket is not released yet.
    /// </summary>
    public static async Task<TestApp> RestartOnAsync(Servers servers, int port, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var app = new TestApp(servers);
            try
            {
                app.StartOnLoopback(port);
                return app;
            }
            catch (Exception e) when (DateTime.UtcNow < deadline && IsAddressInUse(e))
            {
                await app.DisposeAsync();
                await Task.Delay(100);
            }
        }
    }

    private static bool IsAddressInUse(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is IOException { Message: var m } && m.Contains("address already in use", StringComparison.OrdinalIgnoreCase)
                || e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                return true;
            }
        }

        return false;
    }
}
