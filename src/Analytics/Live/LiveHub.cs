using System.Collections.Concurrent;
using System.Security.Claims;
using Analytics.Reads;
using Analytics.Sites;
using Analytics.Staff;
using Analytics.Telemetry;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Analytics.Live;

/// <summary>
/// <c>/hubs/live</c>: <c>Subscribe(site)</c> answers the site's counts at once and joins its
/// group; the <see cref="LivePublisher"/> then pushes <c>counts</c> (and <c>pages</c> to staff).
/// Anyone may watch a site with a public counter; other sites need staff of that site
/// (session cookie, or a token as <c>access_token</c>).
/// </summary>
internal sealed class LiveHub(SiteStore sites, CountsReader counts, TopPagesReader topPages, LiveSubscriptions subscriptions, LiveConnections connections,
    IOptions<LiveOptions> options, AnalyticsMetrics metrics) : Hub<ILiveClient>
{
    private const string UserItem = "user";
    private const string SitesItem = "sites";

    public override async Task OnConnectedAsync()
    {
        var http = Context.GetHttpContext();
        var user = http is null ? null : await http.AuthenticateStaffAsync();
        // Site → watched as staff; read by LiveConnections' checks while methods change it.
        var watched = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        Context.Items[UserItem] = user;
        Context.Items[SitesItem] = watched;
        var (bearer, session) = http is null || user is null ? (null, null) : StaffAuthentication.Credentials(http.Request);
        connections.Add(Context, bearer, session, watched);

        metrics.LiveConnections.Add(1);
        await base.OnConnectedAsync();
    }

    public async Task<SiteCounts> Subscribe(string site)
    {
        var user = Context.Items[UserItem] as ClaimsPrincipal;
        var staff = user?.CanRead(site ?? "") == true;
        var entry = string.IsNullOrEmpty(site) ? null : await sites.FindAsync(site);
        if (entry is null || (!entry.Site.PublicCounter && !staff))
        {
            throw new HubException(
                entry is null && (staff || user?.IsAdmin() == true) ? $"Not found: there is no site '{site}'."
                : user is null ? $"Unauthorized: sign in to watch site '{site}'."
                : $"Forbidden: you have no access to site '{site}'.");
        }

        var watched = (ConcurrentDictionary<string, bool>)Context.Items[SitesItem]!;
        if (watched.TryAdd(entry.Id, staff))
        {
            subscriptions.Add(entry.Id, staff);
            await Groups.AddToGroupAsync(Context.ConnectionId, LiveSubscriptions.CountsGroup(entry.Id));
            if (staff)
            {
                await Groups.AddToGroupAsync(Context.ConnectionId, LiveSubscriptions.StaffGroup(entry.Id));
            }
        }

        if (staff)
        {
            await Clients.Caller.pages(await topPages.ReadAsync(entry));
        }

        return await counts.ReadAsync(entry, options.Value.Days);
    }

    public async Task Unsubscribe(string site)
    {
        var watched = (ConcurrentDictionary<string, bool>)Context.Items[SitesItem]!;
        if (!string.IsNullOrEmpty(site) && watched.TryRemove(site, out var staff))
        {
            subscriptions.Remove(site, staff);
            await Groups.RemoveFromGroupAsync(Context.ConnectionId, LiveSubscriptions.CountsGroup(site));
            await Groups.RemoveFromGroupAsync(Context.ConnectionId, LiveSubscriptions.StaffGroup(site));
        }
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        metrics.LiveConnections.Add(-1);
        connections.Remove(Context.ConnectionId);
        if (Context.Items[SitesItem] is ConcurrentDictionary<string, bool> watched)
        {
            foreach (var (site, staff) in watched)
            {
                subscriptions.Remove(site, staff);
            }
        }

        return base.OnDisconnectedAsync(exception);
    }
}
