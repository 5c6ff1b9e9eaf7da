using System.Collections.Concurrent;
using System.Security.Claims;
using Analytics.Staff;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Live;

/// <summary>
/// The hub's staff connections, checked again every <see cref="LiveOptions.RecheckInterval"/>: a
/// connection whose session or token no longer works (user deleted, signed out, token revoked), or
/// that watches a private site its user may no longer read, is closed. A client that reconnects is
/// asked for its credentials afresh. SignalR checks them only when a connection opens.
/// </summary>
internal sealed partial class LiveStaffConnections(StaffCredentials credentials, IOptions<LiveOptions> options, ILogger<LiveStaffConnections> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, Watcher> _connections = new(StringComparer.Ordinal);

    private sealed record Watcher(HubCallerContext Context, string? Bearer, string? Session, ConcurrentDictionary<string, bool> Sites);

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
            ClaimsPrincipal? user;
            try
            {
                user = watcher.Bearer is not null ? await credentials.FromBearerAsync(watcher.Bearer)
                    : watcher.Session is not null ? await credentials.FromSessionAsync(watcher.Session)
                    : null;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Redis is away: the connection keeps what it had until the next check.
                continue;
            }

            // Sites watched as staff (true) need staff access still; public ones (false) do not.
            if (user is null || watcher.Sites.Any(s => s.Value && !user.CanRead(s.Key)))
            {
                LogClosed(id);
                Remove(id);
                watcher.Context.Abort();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Closed live connection {ConnectionId}: its credentials no longer allow what it watches.")]
    private partial void LogClosed(string connectionId);
}
