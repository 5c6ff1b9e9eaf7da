using System.Collections.Concurrent;
using System.Security.Claims;
using Analytics.Sites;
using Analytics.Staff;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Live;

/// <summary>
/// The hub's connections, checked again every <see cref="LiveOptions.RecheckInterval"/>: SignalR
/// checks credentials only when a connection opens. A connection is closed when its session or
/// token no longer works (user deleted, signed out, token revoked), or when a site it watches may
/// no longer be read that way: a private site its user lost, a site no longer public, a site
/// deleted. A client that reconnects is judged afresh.
/// </summary>
internal sealed partial class LiveConnections(StaffCredentials credentials, SiteStore sites, IOptions<LiveOptions> options, ILogger<LiveConnections> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, Watcher> _connections = new(StringComparer.Ordinal);

    private sealed record Watcher(HubCallerContext Context, string? Bearer, string? Session, ConcurrentDictionary<string, bool> Sites);

    /// <param name="sites">Site → watched as staff (true) or as its public counter (false); the hub changes it as the client subscribes.</param>
    public void Add(HubCallerContext context, string? bearer, string? session, ConcurrentDictionary<string, bool> sites) =>
        _connections[context.ConnectionId] = new Watcher(context, bearer, session, sites);

    public void Remove(string connectionId) => _connections.TryRemove(connectionId, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Wall-clock time on purpose: this is about credentials, not about the days counted.
        using var timer = new PeriodicTimer(options.Value.RecheckInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await RecheckAsync();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task RecheckAsync()
    {
        foreach (var (id, watcher) in _connections)
        {
            bool allowed;
            try
            {
                allowed = await StillAllowedAsync(watcher);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Redis is away: the connection keeps what it had until the next check.
                continue;
            }

            if (!allowed)
            {
                LogClosed(id);
                Remove(id);
                watcher.Context.Abort();
            }
        }
    }

    private async Task<bool> StillAllowedAsync(Watcher watcher)
    {
        ClaimsPrincipal? user = null;
        if (watcher.Bearer is not null || watcher.Session is not null)
        {
            user = watcher.Bearer is not null ? await credentials.FromBearerAsync(watcher.Bearer) : await credentials.FromSessionAsync(watcher.Session!);
            if (user is null)
            {
                return false;
            }
        }

        foreach (var (site, asStaff) in watcher.Sites)
        {
            var entry = await sites.FindAsync(site);
            if (entry is null || !(user?.CanRead(site) == true || (!asStaff && entry.Site.PublicCounter)))
            {
                return false;
            }
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Closed live connection {ConnectionId}: it may no longer watch what it watches.")]
    private partial void LogClosed(string connectionId);
}
