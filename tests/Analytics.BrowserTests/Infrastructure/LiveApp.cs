using Analytics.Tests.Infrastructure;

namespace Analytics.BrowserTests.Infrastructure;

internal static class LiveApp
{
    /// <summary>
    /// Starts the service on Kestrel on a free port of 127.0.0.1 instead of the in-memory test
    /// server, so that a real browser or a node process can reach it, and returns its address.
    /// <see cref="TestApp.CreateClient()"/> clients then talk to it over the network too.
    /// </summary>
    public static Uri StartOnLoopback(this TestApp app)
    {
        app.UseKestrel(0);
        app.StartServer();
        var address = app.ClientOptions.BaseAddress;
        Assert.Equal("127.0.0.1", address.Host);
        Assert.NotEqual(0, address.Port);
        return address;
    }
}
